import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_BACKOFF } from "./backoff";

const noJitter = () => 0.5; // random() = 0.5 gives zero spread

describe("backoffDelay", () => {
  it("doubles from the initial delay up to the cap", () => {
    const delays = Array.from({ length: 8 }, (_, i) => backoffDelay(i, DEFAULT_BACKOFF, noJitter));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });
  it("stays within the jitter bounds", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.initialMs * 2 ** attempt);
      expect(backoffDelay(attempt, DEFAULT_BACKOFF, () => 0)).toBe(Math.round(base * 0.8));
      expect(backoffDelay(attempt, DEFAULT_BACKOFF, () => 0.999999)).toBeLessThanOrEqual(Math.round(base * 1.2));
    }
  });
  it("copes with odd input", () => {
    expect(backoffDelay(-3, DEFAULT_BACKOFF, noJitter)).toBe(500);
    expect(backoffDelay(10_000, DEFAULT_BACKOFF, noJitter)).toBe(15000);
    expect(backoffDelay(2.7, DEFAULT_BACKOFF, noJitter)).toBe(2000);
  });
});

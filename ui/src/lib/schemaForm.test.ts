import { describe, expect, it } from "vitest";
import { argumentsText, fieldOf, fieldsOf, formable, fromArguments, initialValues, parseArguments, promptFields, templateFields, toArguments } from "./schemaForm";
import type { JsonSchema } from "./types";

// server-everything's trigger-elicitation-request asks for this (abridged).
const ELICITATION: JsonSchema = {
  type: "object",
  properties: {
    name: { title: "String", type: "string", description: "Your full, legal name" },
    check: { title: "Boolean", type: "boolean" },
    firstLine: { type: "string", default: "It was a dark and stormy night." },
    email: { type: "string", format: "email" },
    integer: { type: "integer", minimum: 1, maximum: 100, default: 42 },
    number: { type: "number", minimum: 0, maximum: 1000, default: 3.14 },
    friend: { type: "string", enum: ["Monica", "Rachel"], default: "Monica" },
    instruments: { type: "array", minItems: 1, maxItems: 2, items: { type: "string", enum: ["Guitar", "Piano", "Drums"] }, default: ["Guitar"] },
    hero: { type: "string", oneOf: [{ const: "hero-1", title: "Superman" }, { const: "hero-2", title: "Green Lantern" }], default: "hero-1" },
    fish: { type: "array", items: { anyOf: [{ const: "fish-1", title: "Tuna" }, { const: "fish-2", title: "Salmon" }] } },
    pet: { type: "string", enum: ["pet-1", "pet-2"], enumNames: ["Cats", "Dogs"] },
  },
  required: ["name"],
};

describe("fieldsOf", () => {
  it("makes one field per property, in order, with required ones marked", () => {
    const fields = fieldsOf(ELICITATION);
    expect(fields.map((f) => f.name)).toEqual(["name", "check", "firstLine", "email", "integer", "number", "friend", "instruments", "hero", "fish", "pet"]);
    expect(fields.filter((f) => f.required).map((f) => f.name)).toEqual(["name"]);
  });

  it("picks a kind for each type: strings, numbers, booleans, enums as choices", () => {
    const kinds = Object.fromEntries(fieldsOf(ELICITATION).map((f) => [f.name, f.kind]));
    expect(kinds).toMatchObject({ name: "string", check: "boolean", integer: "integer", number: "number", friend: "enum", hero: "enum", pet: "enum", instruments: "multiEnum", fish: "multiEnum" });
  });

  it("labels titled choices (oneOf const/title, anyOf items, legacy enumNames) by their titles", () => {
    const fields = fieldsOf(ELICITATION);
    const labels = (name: string) => fields.find((f) => f.name === name)!.options!.map((o) => o.label);
    expect(labels("hero")).toEqual(["Superman", "Green Lantern"]);
    expect(labels("fish")).toEqual(["Tuna", "Salmon"]);
    expect(labels("pet")).toEqual(["Cats", "Dogs"]);
    expect(labels("friend")).toEqual(["Monica", "Rachel"]);
  });

  it("keeps titles, descriptions, defaults and string formats for display", () => {
    const [name, , firstLine, email] = fieldsOf(ELICITATION);
    expect(name).toMatchObject({ title: "String", description: "Your full, legal name" });
    expect(firstLine.default).toBe("It was a dark and stormy night.");
    expect(email.format).toBe("email");
  });

  it("falls back to a JSON field for objects, plain arrays, unions and untyped properties", () => {
    expect(fieldOf("o", { type: "object", properties: {} }, false)).toMatchObject({ kind: "json", jsonType: "object" });
    expect(fieldOf("a", { type: "array", items: { type: "number" } }, false)).toMatchObject({ kind: "json", jsonType: "array" });
    expect(fieldOf("u", { type: ["string", "number"] }, false).kind).toBe("json");
    expect(fieldOf("x", {}, false).kind).toBe("json");
    expect(fieldOf("t", true, false).kind).toBe("json");
  });

  it("reads an optional value (anyOf X or null, type [X, null]) as X", () => {
    expect(fieldOf("n", { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }], default: null }, false)).toMatchObject({ kind: "integer", schema: { minimum: 0 } });
    expect(fieldOf("s", { type: ["string", "null"] }, false).kind).toBe("string");
  });

  it("has no fields for a schema without properties", () => {
    expect(fieldsOf({ type: "object" })).toEqual([]);
    expect(fieldsOf(undefined)).toEqual([]);
  });
});

describe("formable", () => {
  it("is true for plain object schemas and false when only raw JSON can say it", () => {
    expect(formable(ELICITATION)).toBe(true);
    expect(formable({ type: "object" })).toBe(true);
    expect(formable({ type: "object", additionalProperties: { type: "string" } })).toBe(false);
    expect(formable({ oneOf: [{ type: "object" }] })).toBe(false);
  });
});

describe("initialValues", () => {
  it("starts each field at its default, or empty", () => {
    expect(initialValues(fieldsOf(ELICITATION))).toEqual({
      name: "",
      check: null,
      firstLine: "It was a dark and stormy night.",
      email: "",
      integer: "42",
      number: "3.14",
      friend: '"Monica"',
      instruments: ['"Guitar"'],
      hero: '"hero-1"',
      fish: [],
      pet: "",
    });
  });
});

describe("toArguments", () => {
  const fields = fieldsOf(ELICITATION);

  it("turns the typed values into JSON and leaves out what was not filled in", () => {
    const values = { ...initialValues(fields), name: "Ada", check: true, fish: ['"fish-2"'] };
    expect(toArguments(fields, values)).toEqual({
      ok: true,
      args: {
        name: "Ada",
        check: true,
        firstLine: "It was a dark and stormy night.",
        integer: 42,
        number: 3.14,
        friend: "Monica",
        instruments: ["Guitar"],
        hero: "hero-1",
        fish: ["fish-2"],
      },
    });
  });

  it("refuses a missing required value, and says which", () => {
    const r = toArguments(fields, initialValues(fields));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual({ name: "Required." });
  });

  it("checks numbers: parse, whole numbers, bounds", () => {
    const base = { ...initialValues(fields), name: "x" };
    const errors = (patch: Record<string, string>) => {
      const r = toArguments(fields, { ...base, ...patch });
      return r.ok ? {} : r.errors;
    };
    expect(errors({ integer: "abc" })).toEqual({ integer: "Must be a whole number." });
    expect(errors({ integer: "4.5" })).toEqual({ integer: "Must be a whole number." });
    expect(errors({ integer: "0" })).toEqual({ integer: "At least 1." });
    expect(errors({ number: "1001" })).toEqual({ number: "At most 1000." });
    expect(errors({ number: " 7 " })).toEqual({});
  });

  it("checks string formats and lengths", () => {
    const f = [fieldOf("email", { type: "string", format: "email" }, true), fieldOf("code", { type: "string", minLength: 3, pattern: "^[a-z]+$" }, false)];
    expect(toArguments(f, { email: "nope", code: "ab" })).toMatchObject({ ok: false, errors: { email: "Not an email address.", code: "At least 3 characters." } });
    expect(toArguments(f, { email: "a@b.c", code: "ABC" })).toMatchObject({ ok: false, errors: { code: "Must match ^[a-z]+$." } });
    expect(toArguments(f, { email: "a@b.c", code: "abc" })).toEqual({ ok: true, args: { email: "a@b.c", code: "abc" } });
  });

  it("checks how many choices of a multiple choice", () => {
    const r = toArguments(fields, { ...initialValues(fields), name: "x", instruments: ['"Guitar"', '"Piano"', '"Drums"'] });
    expect(r).toMatchObject({ ok: false, errors: { instruments: "Choose at most 2." } });
  });

  it("parses JSON fields and checks they are the type the schema says", () => {
    const f = [fieldOf("tags", { type: "array", items: { type: "number" } }, false), fieldOf("opts", { type: "object" }, false), fieldOf("any", {}, false)];
    expect(toArguments(f, { tags: "[1, 2]", opts: '{"a": 1}', any: '"s"' })).toEqual({ ok: true, args: { tags: [1, 2], opts: { a: 1 }, any: "s" } });
    expect(toArguments(f, { tags: "{}", opts: "[", any: "" })).toMatchObject({ ok: false, errors: { tags: "Must be an array (JSON).", opts: expect.stringMatching(/^Not JSON/) } });
  });

  it("sends enum values with their JSON type (numbers stay numbers)", () => {
    const f = [fieldOf("level", { type: "integer", enum: [1, 2, 3] }, true)];
    expect(toArguments(f, { level: "2" })).toEqual({ ok: true, args: { level: 2 } });
  });

  it("sends a required boolean only once it was set, and false when unticked after being set", () => {
    const f = [fieldOf("flag", { type: "boolean" }, true)];
    expect(toArguments(f, { flag: null })).toMatchObject({ ok: false, errors: { flag: "Required." } });
    expect(toArguments(f, { flag: false })).toEqual({ ok: true, args: { flag: false } });
  });

  it("leniently carries over what does not parse as typed (for the switch to raw JSON)", () => {
    const r = toArguments(fields, { ...initialValues(fields), integer: "4x", name: "" }, { lenient: true });
    expect(r.ok).toBe(true);
    expect(r.args.integer).toBe("4x");
    expect("name" in r.args).toBe(false);
  });
});

describe("fromArguments", () => {
  const fields = fieldsOf(ELICITATION);

  it("round-trips the form's arguments back into the same values", () => {
    const values = { ...initialValues(fields), name: "Ada", check: false, fish: ['"fish-1"'] };
    const r = toArguments(fields, values);
    expect(r.ok).toBe(true);
    expect(fromArguments(fields, r.args)).toEqual({ values, rejected: [] });
  });

  it("names the keys the form cannot show: unknown keys, values of another type, unknown choices", () => {
    const r = fromArguments(fields, { name: 5, friend: "Ross", extra: true, integer: 7 });
    expect(r.rejected.sort()).toEqual(["extra", "friend", "name"]);
    expect(r.values.integer).toBe("7");
  });

  it("shows JSON fields' values as pretty JSON", () => {
    const f = [fieldOf("opts", { type: "object" }, false)];
    expect(fromArguments(f, { opts: { a: [1] } }).values.opts).toBe('{\n  "a": [\n    1\n  ]\n}');
  });
});

describe("raw JSON mode", () => {
  it("reads an object, treats empty text as no arguments, and refuses anything else", () => {
    expect(parseArguments('{"message": "hi"}')).toEqual({ ok: true, args: { message: "hi" } });
    expect(parseArguments("  ")).toEqual({ ok: true, args: {} });
    expect(parseArguments("[1]")).toMatchObject({ ok: false, error: expect.stringMatching(/object/) });
    expect(parseArguments("{")).toMatchObject({ ok: false, error: expect.stringMatching(/^Not JSON/) });
  });

  it("writes the arguments pretty-printed", () => {
    expect(argumentsText({ message: "hi" })).toBe('{\n  "message": "hi"\n}');
  });
});

describe("prompt and template fields", () => {
  it("makes string fields of a prompt's arguments, required as declared", () => {
    expect(promptFields([{ name: "city", required: true, description: "Where" }, { name: "style" }])).toEqual([
      { name: "city", kind: "string", required: true, description: "Where", schema: { type: "string" } },
      { name: "style", kind: "string", required: false, schema: { type: "string" } },
    ]);
  });

  it("makes one required string field per template variable, once each", () => {
    expect(templateFields(["id", "id", "page"]).map((f) => [f.name, f.required])).toEqual([
      ["id", true],
      ["page", true],
    ]);
  });
});

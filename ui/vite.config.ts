import { svelte } from "@sveltejs/vite-plugin-svelte";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

/** The initial JS budget of the dashboard (issue #5): gzipped bytes. */
const INITIAL_JS_BUDGET = 150 * 1024;

/**
 * Prints the gzipped size of the JS the page loads before it can render (the entry chunk and
 * what it imports statically; lazy chunks excluded) and fails the build over budget.
 */
function bundleBudget(): Plugin {
  return {
    name: "switchboard-bundle-budget",
    apply: "build",
    generateBundle(_options, bundle) {
      const chunks = new Map(Object.values(bundle).flatMap((o) => (o.type === "chunk" ? [[o.fileName, o] as const] : [])));
      const initial = new Set<string>();
      const visit = (file: string) => {
        if (initial.has(file)) return;
        initial.add(file);
        for (const dep of chunks.get(file)?.imports ?? []) visit(dep);
      };
      for (const chunk of chunks.values()) if (chunk.isEntry) visit(chunk.fileName);
      let raw = 0;
      let gz = 0;
      for (const file of initial) {
        const code = chunks.get(file)!.code;
        raw += Buffer.byteLength(code);
        gz += gzipSync(code, { level: 9 }).length;
      }
      const css = Object.values(bundle)
        .filter((o) => o.type === "asset" && o.fileName.endsWith(".css"))
        .reduce((n, o) => n + gzipSync(o.type === "asset" ? o.source : "").length, 0);
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      const line = `initial JS: ${kb(gz)} gzipped (${kb(raw)} raw, ${initial.size} chunk${initial.size === 1 ? "" : "s"}; budget ${kb(INITIAL_JS_BUDGET)}); CSS ${kb(css)} gzipped`;
      console.log(`\n[switchboard] ${line}`);
      if (gz > INITIAL_JS_BUDGET) this.error(`initial JS is over budget: ${line}`);
    },
  };
}

/**
 * The MCP SDK's client imports its Ajv validator even when given another (the inspector
 * gives its own): its import from the client resolves to src/lib/noAjv.ts instead.
 */
function noAjv(): Plugin {
  const stub = fileURLToPath(new URL("./src/lib/noAjv.ts", import.meta.url));
  return {
    name: "switchboard-no-ajv",
    enforce: "pre",
    resolveId(source, importer) {
      if (source.endsWith("/validation/ajv-provider.js") && importer && /[\\/]@modelcontextprotocol[\\/]sdk[\\/]dist[\\/]esm[\\/]client[\\/]index\.js$/.test(importer)) return stub;
      return null;
    },
  };
}

// `npm run dev` serves the UI with hot reload against a running gateway (default the
// standard port; SWITCHBOARD_URL to change it).
const gateway = process.env.SWITCHBOARD_URL ?? "http://127.0.0.1:7427";

// The dashboard's version, as its MCP client (the inspector) tells servers in clientInfo.
const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

export default defineConfig({
  plugins: [svelte(), bundleBudget(), noAjv()],
  define: { __DASHBOARD_VERSION__: JSON.stringify(version) },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    rollupOptions: {
      onwarn(warning, warn) {
        // zod's comments that Rollup cannot place (harmless; it drops them).
        if (warning.code === "INVALID_ANNOTATION" && warning.id?.includes("node_modules")) return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      // The gateway checks Origin; present the proxied requests as its own.
      "/api": { target: gateway, changeOrigin: true, headers: { origin: gateway } },
      // The inspector's MCP endpoint (not the page at /servers/{name}).
      "^/servers/[^/]+/mcp": { target: gateway, changeOrigin: true, headers: { origin: gateway } },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});

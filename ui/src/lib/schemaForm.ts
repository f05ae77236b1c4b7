// A form generated from a JSON Schema object (a tool's `inputSchema`, an elicitation's
// `requestedSchema`, a prompt's arguments, a resource template's variables), without the DOM:
// which field each property becomes, the form's values as typed, and the arguments object
// they make (validated) or come from (the raw-JSON mode switching back to the form).
//
// Values are kept as the user typed them (numbers as text, enum choices by a key), so a
// half-typed "1e" is not lost; only `toArguments` turns them into JSON.

import type { JsonSchema } from "./types";

export type FieldKind = "string" | "number" | "integer" | "boolean" | "enum" | "multiEnum" | "json";

export interface FieldOption {
  /** `JSON.stringify` of the value: what a <select> or a checkbox carries. */
  key: string;
  value: unknown;
  label: string;
}

export interface Field {
  /** The property name: the field's label and the argument's key. */
  name: string;
  kind: FieldKind;
  required: boolean;
  title?: string;
  description?: string;
  /** The schema's default, as JSON (undefined when there is none). */
  default?: unknown;
  /** enum / multiEnum choices. */
  options?: FieldOption[];
  /** strings: the schema's format (date, email, uri, …). */
  format?: string;
  /** The type a JSON field must parse to ("array", "object"), when the schema says. */
  jsonType?: string;
  /** The property's schema (an optional value's `anyOf: [X, null]` read as X). */
  schema: JsonSchema;
}

/** What a field holds: text (strings, numbers, JSON), a boolean (null: not set), chosen keys. */
export type FieldValue = string | boolean | null | string[];
export type FormValues = Record<string, FieldValue>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The choices of `{enum}`, `{oneOf|anyOf: [{const, title}]}` or `{const}`; null when it is not a choice. */
function choicesOf(s: JsonSchema): FieldOption[] | null {
  const option = (value: unknown, label?: unknown): FieldOption => ({
    key: JSON.stringify(value),
    value,
    label: typeof label === "string" && label ? label : typeof value === "string" ? value : JSON.stringify(value),
  });
  if (Array.isArray(s.enum)) {
    const names = Array.isArray(s.enumNames) ? s.enumNames : [];
    return s.enum.map((v, i) => option(v, names[i]));
  }
  for (const key of ["oneOf", "anyOf"] as const) {
    const list = s[key];
    if (Array.isArray(list) && list.length > 0 && list.every((o) => isObject(o) && "const" in o)) {
      return (list as JsonSchema[]).map((o) => option(o.const, o.title));
    }
  }
  if ("const" in s) return [option(s.const, s.title)];
  return null;
}

/** `anyOf: [X, {type: "null"}]` (an optional value, as pydantic writes it) is X. */
function unwrapNullable(s: JsonSchema): JsonSchema {
  for (const key of ["anyOf", "oneOf"] as const) {
    const list = s[key];
    if (!Array.isArray(list)) continue;
    const rest = (list as unknown[]).filter((o) => !(isObject(o) && o.type === "null"));
    if (rest.length === 1 && rest.length < list.length && isObject(rest[0])) {
      const { [key]: _drop, ...outer } = s;
      return { ...outer, ...(rest[0] as JsonSchema) };
    }
  }
  return s;
}

/** The one non-null type a schema names, or null (none, or several). */
function singleType(s: JsonSchema): string | null {
  if (typeof s.type === "string") return s.type;
  if (Array.isArray(s.type)) {
    const types = s.type.filter((t) => t !== "null");
    return types.length === 1 ? String(types[0]) : null;
  }
  return null;
}

/** One property's field. */
export function fieldOf(name: string, raw: JsonSchema | boolean | undefined, required: boolean): Field {
  const schema: JsonSchema = isObject(raw) ? (raw as JsonSchema) : {};
  const s = unwrapNullable(schema);
  const base: Field = { name, kind: "json", required, schema: s };
  if (typeof s.title === "string" && s.title && s.title !== name) base.title = s.title;
  if (typeof s.description === "string" && s.description) base.description = s.description;
  if ("default" in s) base.default = s.default;
  const type = singleType(s);
  const choices = choicesOf(s);
  if (choices && type !== "array") return { ...base, kind: "enum", options: choices };
  if (type === "array" && isObject(s.items)) {
    const itemChoices = choicesOf(unwrapNullable(s.items));
    if (itemChoices) return { ...base, kind: "multiEnum", options: itemChoices };
  }
  switch (type) {
    case "string":
      return typeof s.format === "string" ? { ...base, kind: "string", format: s.format } : { ...base, kind: "string" };
    case "number":
    case "integer":
    case "boolean":
      return { ...base, kind: type };
    case "array":
    case "object":
      return { ...base, jsonType: type };
    default:
      return base;
  }
}

/** The fields of an object schema, in the order of its properties. */
export function fieldsOf(schema: JsonSchema | null | undefined): Field[] {
  const properties = isObject(schema?.properties) ? (schema.properties as Record<string, JsonSchema>) : {};
  const required = Array.isArray(schema?.required) ? schema.required : [];
  return Object.entries(properties).map(([name, s]) => fieldOf(name, s, required.includes(name)));
}

/**
 * Whether the form can say everything the schema allows: an object schema whose arguments are
 * its listed properties. Otherwise (`additionalProperties` with no properties, a top-level
 * `oneOf`, a `$ref`) the raw-JSON mode is the better start.
 */
export function formable(schema: JsonSchema | null | undefined): boolean {
  if (!schema || !isObject(schema)) return true;
  if (schema.oneOf || schema.anyOf || schema.allOf || schema.$ref) return false;
  const props = isObject(schema.properties) ? Object.keys(schema.properties).length : 0;
  return !(props === 0 && (schema.additionalProperties === true || isObject(schema.additionalProperties) || schema.patternProperties));
}

/** A prompt's arguments as fields (all strings). */
export function promptFields(args: { name: string; description?: string; title?: string; required?: boolean }[] | undefined): Field[] {
  return (args ?? []).map((a) => {
    const f: Field = { name: a.name, kind: "string", required: a.required === true, schema: { type: "string" } };
    if (a.title && a.title !== a.name) f.title = a.title;
    if (a.description) f.description = a.description;
    return f;
  });
}

/** A resource template's variables as fields (all strings, all required). */
export function templateFields(names: string[]): Field[] {
  return [...new Set(names)].map((name) => ({ name, kind: "string", required: true, schema: { type: "string" } }));
}

/** A JSON value in a textarea: pretty when it is an array or an object. */
function jsonText(v: unknown): string {
  return v === undefined ? "" : isObject(v) || Array.isArray(v) ? JSON.stringify(v, null, 2) : JSON.stringify(v);
}

/** The value a field shows for an argument `v` (undefined: not set); null when it cannot show it. */
function valueFor(field: Field, v: unknown): FieldValue | undefined | null {
  if (v === undefined) return undefined;
  switch (field.kind) {
    case "string":
      return typeof v === "string" ? v : null;
    case "number":
    case "integer":
      return typeof v === "number" ? String(v) : null;
    case "boolean":
      return typeof v === "boolean" ? v : null;
    case "enum": {
      const key = JSON.stringify(v);
      return field.options?.some((o) => o.key === key) ? key : null;
    }
    case "multiEnum": {
      if (!Array.isArray(v)) return null;
      const keys = v.map((x) => JSON.stringify(x));
      return keys.every((k) => field.options?.some((o) => o.key === k)) ? keys : null;
    }
    case "json":
      return jsonText(v);
  }
}

/** The empty value of a field (nothing typed, nothing chosen). */
export function emptyValue(field: Field): FieldValue {
  return field.kind === "boolean" ? null : field.kind === "multiEnum" ? [] : "";
}

/** The form as it opens: each field at its default (or empty). */
export function initialValues(fields: Field[]): FormValues {
  const values: FormValues = {};
  for (const f of fields) values[f.name] = (f.default === undefined ? undefined : valueFor(f, f.default)) ?? emptyValue(f);
  return values;
}

/**
 * The form's values for an arguments object (the raw-JSON mode switching back to the form).
 * `rejected` names the keys the form cannot show: no such field, or a value of another type.
 */
export function fromArguments(fields: Field[], args: Record<string, unknown>): { values: FormValues; rejected: string[] } {
  const values: FormValues = {};
  const rejected: string[] = [];
  for (const f of fields) {
    const v = valueFor(f, args[f.name]);
    if (v === null) rejected.push(f.name);
    values[f.name] = v ?? emptyValue(f);
  }
  for (const key of Object.keys(args)) if (!fields.some((f) => f.name === key)) rejected.push(key);
  return { values, rejected };
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function stringError(field: Field, text: string): string | null {
  const s = field.schema;
  if (typeof s.minLength === "number" && text.length < s.minLength) return `At least ${s.minLength} characters.`;
  if (typeof s.maxLength === "number" && text.length > s.maxLength) return `At most ${s.maxLength} characters.`;
  if (typeof s.pattern === "string") {
    try {
      if (!new RegExp(s.pattern, "u").test(text)) return `Must match ${s.pattern}.`;
    } catch {
      // a pattern JavaScript cannot read: the server checks it
    }
  }
  if (field.format === "email" && !EMAIL.test(text)) return "Not an email address.";
  if ((field.format === "uri" || field.format === "url") && !URL.canParse(text)) return "Not a URI (scheme:…).";
  if (field.format === "date" && !DATE.test(text)) return "A date: YYYY-MM-DD.";
  return null;
}

function numberError(field: Field, n: number): string | null {
  const s = field.schema;
  if (field.kind === "integer" && !Number.isInteger(n)) return "Must be a whole number.";
  if (typeof s.minimum === "number" && n < s.minimum) return `At least ${s.minimum}.`;
  if (typeof s.maximum === "number" && n > s.maximum) return `At most ${s.maximum}.`;
  if (typeof s.exclusiveMinimum === "number" && n <= s.exclusiveMinimum) return `More than ${s.exclusiveMinimum}.`;
  if (typeof s.exclusiveMaximum === "number" && n >= s.exclusiveMaximum) return `Less than ${s.exclusiveMaximum}.`;
  return null;
}

export type ArgumentsResult = { ok: true; args: Record<string, unknown> } | { ok: false; errors: Record<string, string>; args: Record<string, unknown> };

/**
 * The arguments object the form's values make. A field left empty is not sent (a required one
 * is an error). With `lenient` (the form switching to raw JSON) nothing is an error: a number
 * or JSON that does not parse is carried over as the text typed, so nothing typed is lost.
 */
export function toArguments(fields: Field[], values: FormValues, { lenient = false } = {}): ArgumentsResult {
  const args: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const v = values[f.name] ?? emptyValue(f);
    const fail = (message: string, raw: unknown) => {
      if (!lenient) errors[f.name] = message;
      else if (raw !== undefined) args[f.name] = raw;
    };
    if (f.kind === "boolean") {
      if (typeof v === "boolean") args[f.name] = v;
      else if (f.required) fail("Required.", undefined);
      continue;
    }
    if (f.kind === "multiEnum") {
      const keys = Array.isArray(v) ? v : [];
      const chosen = (f.options ?? []).filter((o) => keys.includes(o.key)).map((o) => o.value);
      const s = f.schema;
      if (chosen.length === 0 && !f.required) continue;
      if (typeof s.minItems === "number" && chosen.length < s.minItems) fail(`Choose at least ${s.minItems}.`, chosen);
      else if (typeof s.maxItems === "number" && chosen.length > s.maxItems) fail(`Choose at most ${s.maxItems}.`, chosen);
      else args[f.name] = chosen;
      continue;
    }
    const text = typeof v === "string" ? v : "";
    if (f.kind === "string") {
      if (text === "") {
        if (f.required) fail("Required.", undefined);
        continue;
      }
      const error = stringError(f, text);
      if (error) fail(error, text);
      else args[f.name] = text;
      continue;
    }
    if (text.trim() === "") {
      if (f.required) fail("Required.", undefined);
      continue;
    }
    if (f.kind === "enum") {
      const option = f.options?.find((o) => o.key === text);
      if (option) args[f.name] = option.value;
      else fail("Choose one of the values.", undefined);
      continue;
    }
    if (f.kind === "number" || f.kind === "integer") {
      const n = Number(text.trim());
      if (!Number.isFinite(n)) {
        fail(f.kind === "integer" ? "Must be a whole number." : "Must be a number.", text);
        continue;
      }
      const error = numberError(f, n);
      if (error) fail(error, n);
      else args[f.name] = n;
      continue;
    }
    // json
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      fail(`Not JSON: ${(e as Error).message}`, text);
      continue;
    }
    const actual = Array.isArray(parsed) ? "array" : parsed === null ? "null" : typeof parsed;
    if (f.jsonType && actual !== f.jsonType) fail(`Must be ${f.jsonType === "array" ? "an array" : "an object"} (JSON).`, parsed);
    else args[f.name] = parsed;
  }
  return Object.keys(errors).length === 0 ? { ok: true, args } : { ok: false, errors, args };
}

/** The raw-JSON mode's text for an arguments object. */
export function argumentsText(args: Record<string, unknown>): string {
  return JSON.stringify(args, null, 2);
}

/** The raw-JSON mode's text as an arguments object, or why it is not one. */
export function parseArguments(text: string): { ok: true; args: Record<string, unknown> } | { ok: false; error: string } {
  if (text.trim() === "") return { ok: true, args: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `Not JSON: ${(e as Error).message}` };
  }
  return isObject(parsed) ? { ok: true, args: parsed } : { ok: false, error: "The arguments must be a JSON object ({…})." };
}

// JSON Schema (ajv) for the shape of each rules-file item. Unknown keys are allowed here: Falco
// warns about them ("Unknown key 'x'. The key will be ignored.") and so does the loader.

import { Ajv, type ErrorObject } from 'ajv';

const stringList = { type: 'array', items: { type: 'string' } };
const overrideMap = (_keys: string[]) => ({
  type: 'object',
  // which keys may be appended/replaced is checked by the collector, with Falco's messages
  additionalProperties: { enum: ['append', 'replace'] },
});

const exceptionSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    fields: { anyOf: [{ type: 'string' }, stringList] },
    comps: { anyOf: [{ type: 'string' }, stringList] },
    values: { type: 'array' },
  },
};

export const RULE_KEYS = ['rule', 'desc', 'condition', 'output', 'priority', 'source', 'enabled', 'tags', 'exceptions', 'warn_evttypes', 'skip-if-unknown-filter', 'capture', 'capture_duration', 'append', 'override'];
export const MACRO_KEYS = ['macro', 'condition', 'append', 'override'];
export const LIST_KEYS = ['list', 'items', 'append', 'override'];

export const ITEM_SCHEMAS = {
  rule: {
    type: 'object',
    required: ['rule'],
    properties: {
      rule: { type: 'string', minLength: 1 },
      desc: { type: 'string' },
      condition: { type: 'string' },
      output: { type: 'string' },
      priority: { type: 'string' },
      source: { type: 'string' },
      enabled: { type: 'boolean' },
      tags: stringList,
      exceptions: { type: 'array', items: exceptionSchema },
      warn_evttypes: { type: 'boolean' },
      'skip-if-unknown-filter': { type: 'boolean' },
      capture: { type: 'boolean' },
      capture_duration: { type: 'integer', minimum: 0 },
      append: { type: 'boolean' },
      override: overrideMap(['condition', 'output', 'desc', 'priority', 'capture', 'capture_duration', 'tags', 'exceptions', 'enabled', 'warn_evttypes', 'skip-if-unknown-filter']),
    },
  },
  macro: {
    type: 'object',
    required: ['macro'],
    properties: {
      macro: { type: 'string', minLength: 1 },
      condition: { type: 'string' },
      append: { type: 'boolean' },
      override: overrideMap(['condition']),
    },
  },
  list: {
    type: 'object',
    required: ['list'],
    properties: {
      list: { type: 'string', minLength: 1 },
      items: { type: 'array', items: { type: ['string', 'number'] } },
      append: { type: 'boolean' },
      override: overrideMap(['items']),
    },
  },
  required_engine_version: {
    type: 'object',
    properties: { required_engine_version: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 0 }] } },
  },
  required_plugin_versions: {
    type: 'object',
    properties: {
      required_plugin_versions: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'version'],
          properties: { name: { type: 'string' }, version: { type: 'string' }, alternatives: { type: 'array' } },
        },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = Object.fromEntries(Object.entries(ITEM_SCHEMAS).map(([k, s]) => [k, ajv.compile(s)]));

export interface SchemaIssue {
  /** path inside the item: first element is the key */
  path: (string | number)[];
  message: string;
}

export function checkItemSchema(kind: keyof typeof ITEM_SCHEMAS, data: unknown): SchemaIssue[] {
  const v = validators[kind];
  if (v === undefined || v(data)) return [];
  const out: SchemaIssue[] = [];
  const seen = new Set<string>();
  for (const e of v.errors ?? []) {
    // anyOf produces one error per branch plus a summary; keep the summary only
    if (e.keyword !== 'anyOf' && (v.errors ?? []).some((o) => o.keyword === 'anyOf' && e.instancePath === o.instancePath)) continue;
    const issue = toIssue(e);
    const key = issue.path.join('/') + issue.message;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(issue);
    }
  }
  return out;
}

function toIssue(e: ErrorObject): SchemaIssue {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~')));
  const name = path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  const subject = name === '' ? 'item' : `'${name}'`;
  switch (e.keyword) {
    case 'type':
      return { path, message: `${subject} must be ${String((e.params as { type: unknown }).type).replace(',', ' or ')}` };
    case 'required':
      return { path, message: `missing required key '${String((e.params as { missingProperty: unknown }).missingProperty)}'` };
    case 'enum':
      return { path, message: `${subject} must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String).join(', ')}` };
    case 'propertyNames':
      return { path, message: `${subject}: ${e.message ?? 'invalid key'}` };
    case 'anyOf':
      return { path, message: `${subject} must be a string or a list of strings` };
    default:
      return { path, message: `${subject} ${e.message ?? 'is invalid'}` };
  }
}

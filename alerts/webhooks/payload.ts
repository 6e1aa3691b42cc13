// The webhook body: Falco's JSON alert shape (time, rule, priority, output, output_fields,
// tags, hostname, source) plus `uuid` (the delivery id) and `incident_id`. Keys are sorted
// like Falco's nlohmann::json output; `evt.time` is written as an exact integer.

import type { Alert } from '../alert.js';
import { formatClockNs, formatTimeNs } from '../time.js';
import type { FieldValue } from '../record-format.js';

/** JSON with sorted keys; output_fields' evt.time (a digit string) is written as a bare integer. */
function fieldsJson(fields: Record<string, FieldValue>): string {
  const keys = Object.keys(fields).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = fields[k];
    const text = k === 'evt.time' && typeof v === 'string' && /^-?\d+$/.test(v) ? v : JSON.stringify(v);
    parts.push(`${JSON.stringify(k)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

/** Falco's `output`: "HH:MM:SS.nnnnnnnnn: Priority message". */
export function falcoOutput(a: Pick<Alert, 'timeNs' | 'priority' | 'message'>): string {
  return `${formatClockNs(a.timeNs)}: ${a.priority} ${a.message}`;
}

export function webhookBody(a: Alert, uuid: string, incidentId: number): string {
  return (
    `{"hostname":${JSON.stringify(a.hostname)}` +
    `,"incident_id":${incidentId}` +
    `,"output":${JSON.stringify(falcoOutput(a))}` +
    `,"output_fields":${fieldsJson(a.outputFields)}` +
    `,"priority":${JSON.stringify(a.priority)}` +
    `,"rule":${JSON.stringify(a.rule)}` +
    `,"source":${JSON.stringify(a.source)}` +
    `,"tags":${JSON.stringify([...a.tags].sort())}` +
    `,"time":${JSON.stringify(formatTimeNs(a.timeNs))}` +
    `,"uuid":${JSON.stringify(uuid)}}`
  );
}

export { fieldsJson };

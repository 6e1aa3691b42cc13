import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeRecord,
  encodeRecord,
  layoutRecord,
  HDR_N_VALUES,
  HDR_RULE_ID,
  HDR_USED_LEN,
  KIND_BOOL,
  KIND_BYTES,
  KIND_I32,
  KIND_I64,
  KIND_IPV4,
  KIND_IPV6,
  KIND_NONE,
  KIND_STR,
  KIND_STRLIST,
  KIND_U64,
  RECORD_F_TRUNCATED,
  RECORD_HEADER_SIZE,
  RECORD_MAGIC_VERSION,
  VAL_CAP,
  VAL_LEN,
  VALUE_F_NA,
  VALUE_HEADER_SIZE,
  EVT_CONNECT,
  type RuleTable,
} from './record-format.js';

const table: RuleTable = {
  rules: [
    { name: 'Shell in container', priority: 'NOTICE', tags: ['shell'], output: 'shell %proc.name', source: 'syscall' },
    { name: 'Outbound', priority: 'WARNING', tags: [], output: 'conn %fd.sip:%fd.sport', source: 'syscall' },
  ],
  fields: ['proc.name', 'proc.pid', 'fd.sip', 'fd.sport', 'proc.args', 'evt.res', 'fd.rip6', 'proc.tty', 'x.bool', 'x.bytes', 'x.none'],
};

describe('record format', () => {
  it('round-trips every value kind', () => {
    const bytes = encodeRecord({
      ruleId: 1,
      ktimeNs: 1_700_000_000_123_456_789n,
      pid: 41,
      tgid: 40,
      cgroupId: 0xdeadbeefcafen,
      evtType: EVT_CONNECT,
      values: [
        { fieldId: 0, value: { kind: KIND_STR, value: 'bash' } },
        { fieldId: 1, value: { kind: KIND_U64, value: 40 } },
        { fieldId: 2, value: { kind: KIND_IPV4, value: '10.1.2.3' } },
        { fieldId: 3, value: { kind: KIND_U64, value: 443n } },
        { fieldId: 4, value: { kind: KIND_STRLIST, value: ['-c', 'ls -l'] } },
        { fieldId: 5, value: { kind: KIND_I64, value: -111 } },
        { fieldId: 6, value: { kind: KIND_IPV6, value: '2001:db8::1' } },
        { fieldId: 7, value: { kind: KIND_I32, value: -1 } },
        { fieldId: 8, value: { kind: KIND_BOOL, value: true } },
        { fieldId: 9, value: { kind: KIND_BYTES, value: new Uint8Array([0xca, 0xfe]) } },
        { fieldId: 10, value: { kind: KIND_NONE } },
      ],
    });
    expect(bytes.length % 8).toBe(0);
    const r = decodeRecord(bytes, table);
    if (!r.ok) throw new Error(r.error);
    expect(r.record.rule.name).toBe('Outbound');
    expect(r.record.ktimeNs).toBe(1_700_000_000_123_456_789n);
    expect(r.record.pid).toBe(41);
    expect(r.record.tgid).toBe(40);
    expect(r.record.cgroupId).toBe(0xdeadbeefcafen);
    expect(r.record.evtType).toBe(EVT_CONNECT);
    expect(Object.fromEntries(r.record.values.map((v) => [v.field, v.value]))).toEqual({
      'proc.name': 'bash',
      'proc.pid': 40,
      'fd.sip': '10.1.2.3',
      'fd.sport': 443,
      'proc.args': '-c ls -l',
      'evt.res': -111,
      'fd.rip6': '2001:db8::1',
      'proc.tty': -1,
      'x.bool': true,
      'x.bytes': 'cafe',
      'x.none': null,
    });
  });

  it('writes the header at the documented offsets', () => {
    const bytes = encodeRecord({ ruleId: 7, ktimeNs: 1n, pid: 2, tgid: 3, cgroupId: 4n, values: [] });
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint32(0, true)).toBe(RECORD_MAGIC_VERSION);
    expect(dv.getUint32(HDR_RULE_ID, true)).toBe(7);
    expect(dv.getUint32(HDR_USED_LEN, true)).toBe(RECORD_HEADER_SIZE);
    expect(bytes.length).toBe(RECORD_HEADER_SIZE);
  });

  it('decodes fixed slots written at layoutRecord offsets, as a program would', () => {
    const layout = layoutRecord([
      { fieldId: 0, kind: KIND_STR, cap: 16 },
      { fieldId: 3, kind: KIND_U64 },
    ]);
    expect(layout.slots[0].payloadOffset).toBe(RECORD_HEADER_SIZE + VALUE_HEADER_SIZE);
    expect(layout.slots[1].entryOffset).toBe(RECORD_HEADER_SIZE + VALUE_HEADER_SIZE + 16);
    const buf = new Uint8Array(layout.size);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, RECORD_MAGIC_VERSION, true);
    dv.setUint32(HDR_N_VALUES, 2, true);
    for (const s of layout.slots) {
      dv.setUint16(s.entryOffset, s.fieldId, true);
      buf[s.entryOffset + 2] = s.kind;
      dv.setUint16(s.entryOffset + VAL_CAP, s.cap, true);
    }
    // probe_read_user_str result: "sh\0" (len includes the NUL), garbage after it.
    buf.set([0x73, 0x68, 0, 0x41], layout.slots[0].payloadOffset);
    dv.setUint16(layout.slots[0].entryOffset + VAL_LEN, 3, true);
    dv.setUint16(layout.slots[1].entryOffset + VAL_LEN, 8, true);
    dv.setUint32(layout.slots[1].payloadOffset, 8080, true);
    const r = decodeRecord(buf, table);
    if (!r.ok) throw new Error(r.error);
    expect(r.record.values.map((v) => v.value)).toEqual(['sh', 8080]);
  });

  it('marks values the program could not read as missing', () => {
    const bytes = encodeRecord({
      ruleId: 0, ktimeNs: 0n, pid: 1, tgid: 1, cgroupId: 0n,
      values: [{ fieldId: 0, value: { kind: KIND_STR, value: 'x' }, vflags: VALUE_F_NA }],
    });
    const r = decodeRecord(bytes, table);
    expect(r.ok && r.record.values[0].value).toBe(null);
  });

  it('flags truncation when a value exceeds its slot', () => {
    const bytes = encodeRecord({
      ruleId: 0, ktimeNs: 0n, pid: 1, tgid: 1, cgroupId: 0n,
      values: [{ fieldId: 0, value: { kind: KIND_STR, value: 'abcdefghij' }, cap: 4 }],
    });
    const r = decodeRecord(bytes, table);
    if (!r.ok) throw new Error(r.error);
    expect(r.record.values[0].value).toBe('abcd');
    expect(r.record.values[0].truncated).toBe(true);
    expect(r.record.flags & RECORD_F_TRUNCATED).toBeTruthy();
  });

  it('rejects malformed records with a reason', () => {
    const good = encodeRecord({ ruleId: 0, ktimeNs: 0n, pid: 1, tgid: 1, cgroupId: 0n, values: [{ fieldId: 0, value: { kind: KIND_STR, value: 'bash' } }] });
    const cases: [string, (b: Uint8Array, dv: DataView) => Uint8Array, RegExp][] = [
      ['short', (b) => b.subarray(0, 10), /shorter/],
      ['magic', (b, dv) => (dv.setUint32(0, 0x12340001, true), b), /magic/],
      ['rule', (b, dv) => (dv.setUint32(HDR_RULE_ID, 99, true), b), /unknown rule id 99/],
      ['count', (b, dv) => (dv.setUint32(HDR_N_VALUES, 5, true), b), /beyond the record end/],
      ['len', (b, dv) => (dv.setUint16(RECORD_HEADER_SIZE + VAL_LEN, 500, true), b), /past the record end/],
      ['kind', (b) => ((b[RECORD_HEADER_SIZE + 2] = 200), b), /unknown kind/],
      ['field', (b, dv) => (dv.setUint16(RECORD_HEADER_SIZE, 999, true), b), /unknown field id/],
      ['used', (b, dv) => (dv.setUint32(HDR_USED_LEN, 4096, true), b), /used length/],
    ];
    for (const [, mutate, re] of cases) {
      const b = good.slice();
      const r = decodeRecord(mutate(b, new DataView(b.buffer)), table);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(re);
    }
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(40), (noise, at) => {
        const b = encodeRecord({ ruleId: 0, ktimeNs: 0n, pid: 1, tgid: 1, cgroupId: 0n, values: [{ fieldId: 0, value: { kind: KIND_STR, value: 'bash' } }] });
        const mixed = new Uint8Array(Math.max(b.length, at + noise.length));
        mixed.set(b);
        mixed.set(noise, Math.min(at, mixed.length - noise.length));
        const r = decodeRecord(mixed, table);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

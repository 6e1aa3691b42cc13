// The one error type the ELF loader throws. Every malformed, truncated or hostile object ends in
// an ElfError whose message says what is wrong and where (section, symbol, offset), never in a
// RangeError or TypeError escaping from a DataView.

export class ElfError extends Error {
  /** The object file name, when the caller gave one. */
  readonly file: string | undefined;
  constructor(message: string, file?: string) {
    super(file !== undefined ? `${file}: ${message}` : message);
    this.name = 'ElfError';
    this.file = file;
  }
}

/** Throw an ElfError unless `cond` holds. */
export function check(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new ElfError(typeof message === 'string' ? message : message());
}

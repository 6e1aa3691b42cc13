// Map errors with Linux's names and numbers, so userspace callers can branch on `code` exactly as
// a libbpf user branches on errno.

export const MAP_ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  EOPNOTSUPP: 95,
  ENOTSUPP: 524,
} as const;

export type MapErrorCode = keyof typeof MAP_ERRNO;

const BY_ERRNO: ReadonlyMap<number, MapErrorCode> = new Map(
  (Object.entries(MAP_ERRNO) as [MapErrorCode, number][]).map(([k, v]) => [v, k]),
);

export class MapError extends Error {
  readonly code: MapErrorCode;
  /** Positive errno (a program sees -errno). */
  readonly errno: number;
  constructor(code: MapErrorCode, message?: string) {
    super(message === undefined ? code : `${code}: ${message}`);
    this.name = 'MapError';
    this.code = code;
    this.errno = MAP_ERRNO[code];
  }

  /** From a negative (program-side) or positive errno. */
  static fromErrno(errno: number, message?: string): MapError {
    const code = BY_ERRNO.get(Math.abs(errno));
    if (code === undefined) return new MapError('EINVAL', `${message ?? 'error'} (errno ${errno})`);
    return new MapError(code, message);
  }
}

// anvil's error families. Callers match on `code`; the API takes its HTTP status
// from the category (as Ironic's exception families do). Messages say what failed,
// for which machine, and what to do — never a password or token.

export type ErrorCategory =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'too-large'
  | 'unsupported-media-type'
  | 'unavailable'
  | 'internal';

export const httpStatusOf: Record<ErrorCategory, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  'unsupported-media-type': 415,
  unavailable: 503,
  internal: 500,
};

export class AnvilError extends Error {
  override readonly name: string = 'AnvilError';
  readonly code: string;
  readonly category: ErrorCategory;

  constructor(code: string, category: ErrorCategory, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.category = category;
  }

  get httpStatus(): number {
    return httpStatusOf[this.category];
  }
}

export const invalid = (code: string, message: string) => new AnvilError(code, 'invalid', message);
export const notFound = (code: string, message: string) => new AnvilError(code, 'not-found', message);
export const conflict = (code: string, message: string) => new AnvilError(code, 'conflict', message);

/** "a, b and c" for messages that list known names. */
export function listWords(names: readonly string[]): string {
  if (names.length === 0) return '(none)';
  if (names.length === 1) return names[0]!;
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

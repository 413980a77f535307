/** The `{ code, message }` an API error carries (see src-shared/errors.ts), for display. */
export function describeError(error: unknown): { code: string; message: string } {
  if (typeof error === 'object' && error !== null && 'data' in error) {
    const data = (error as { data?: { app?: { code: string; message: string } } }).data;
    if (data?.app) return data.app;
  }
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

/** `code: message` of an API error, for display. */
export function describeFailure(error: unknown): string {
  const { code, message } = describeError(error);
  return `${code}: ${message}`;
}

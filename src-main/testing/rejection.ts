import { AppError } from '../../src-shared/errors.js';

/** Awaits a promise that must reject with an AppError, and returns that error for the test to inspect. */
export async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a rejection with an AppError');
}

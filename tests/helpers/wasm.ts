/** WebAssembly text to bytes (wabt), and the code of a BulkheadError a synchronous check throws. */
import wabtInit from 'wabt';
import { BulkheadError, type ErrorCode } from '../../host/core/errors.js';

const wabt = await wabtInit();

/** The binary of a `.wat` source, with the features the fixtures use. */
export function wat(source: string): Uint8Array {
  const module = wabt.parseWat('test.wat', source, {});
  try {
    return new Uint8Array(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

/** The code `fn` throws, or undefined when it returns; anything but a BulkheadError is rethrown. */
export function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof BulkheadError) return error.code;
    throw error;
  }
  return undefined;
}

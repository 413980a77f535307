import type { Server } from 'node:http';
import { AppError } from '../../src-shared/errors.js';

/** The loopback address clemplay's servers bind unless told otherwise. */
export const loopbackAddress = '127.0.0.1';

/**
 * Starts `server` listening on `address`:`port` (0: a free port) and resolves with the port; a port in use (or an
 * address this machine does not have) is a `network` error that says what to do. Kept apart from the web host so
 * that a server without the app's router (the OpenAI-compatible API) can use it.
 */
export function listen(server: Server, port: number, address: string = loopbackAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? new AppError(
              'network',
              `port ${port} on ${address} is already in use; pick another with --port, or --port 0`,
            )
          : error.code === 'EADDRNOTAVAIL'
            ? new AppError('network', `${address} is not an address of this machine; check --host`)
            : error,
      );
    };
    server.once('error', onError);
    server.listen(port, address, () => {
      server.off('error', onError);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound !== null ? bound.port : port);
    });
  });
}

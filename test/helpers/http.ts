/** Plain HTTP/1.1 over a Unix socket, for tests that talk to a real daemon. */
import { request as httpRequest } from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function unixRequest(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  options: { raw?: string; contentType?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const headers: Record<string, string> = {};
    if (payload !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    let answered = false;
    const req = httpRequest(
      { socketPath, method, path, headers, timeout: options.timeoutMs ?? 10_000 },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request ${method} ${path} timed out`)));
    // A daemon that answers before reading a refused body may close while we still write it.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

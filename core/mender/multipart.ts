// A streamed multipart/form-data body with a known Content-Length: small text fields first, the
// file last (Mender requires the `artifact` part to be the last one), the file read from disk.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';

export interface MultipartFile {
  field: string;
  filename: string;
  path: string;
  size: number;
  contentType?: string;
}

export interface MultipartBody {
  contentType: string;
  length: number;
  /** A fresh stream each call (retries send the body again). */
  open(onBytes?: (sent: number) => void): Readable;
}

export function multipartBody(fields: Record<string, string>, file: MultipartFile): MultipartBody {
  const boundary = `----vancore-${randomBytes(12).toString('hex')}`;
  const head =
    Object.entries(fields)
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('') +
    `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename.replace(/"/g, '')}"\r\n` +
    `Content-Type: ${file.contentType ?? 'application/octet-stream'}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const headBuf = Buffer.from(head);
  const tailBuf = Buffer.from(tail);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: headBuf.length + file.size + tailBuf.length,
    open(onBytes) {
      let sent = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          sent += chunk.length;
          onBytes?.(sent);
          cb(null, chunk);
        },
      });
      async function* parts() {
        yield headBuf;
        yield* createReadStream(file.path, { highWaterMark: 256 * 1024 });
        yield tailBuf;
      }
      return Readable.from(parts(), { objectMode: false }).pipe(count);
    },
  };
}

// Just enough ustar to carry a small root filesystem to `docker import`: directories, regular files
// and symlinks, owned by root. Names up to 100 bytes (no prefix field, no pax headers).
import { UsageError } from '../errors';

export class TarWriter {
  private parts: Buffer[] = [];
  private readonly mtime = Math.floor(Date.now() / 1000);

  dir(name: string, mode = 0o755): this {
    this.entry(name.endsWith('/') ? name : `${name}/`, '5', mode, 0);
    return this;
  }

  file(name: string, data: Buffer, mode = 0o644): this {
    this.entry(name, '0', mode, data.length);
    this.parts.push(data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) this.parts.push(Buffer.alloc(pad));
    return this;
  }

  symlink(name: string, target: string): this {
    this.entry(name, '2', 0o777, 0, target);
    return this;
  }

  /** The archive, with its two zero blocks at the end. */
  finish(): Buffer {
    return Buffer.concat([...this.parts, Buffer.alloc(1024)]);
  }

  private entry(name: string, type: '0' | '2' | '5', mode: number, size: number, link = ''): void {
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(link) > 100) throw new UsageError('BAD_ARGUMENT', `tar: path longer than 100 bytes: ${name}`);
    const h = Buffer.alloc(512);
    const put = (off: number, len: number, s: string) => h.write(s, off, len, 'utf8');
    const oct = (off: number, len: number, n: number) => put(off, len, n.toString(8).padStart(len - 1, '0') + '\0');
    put(0, 100, name);
    oct(100, 8, mode);
    oct(108, 8, 0);
    oct(116, 8, 0);
    oct(124, 12, size);
    oct(136, 12, this.mtime);
    put(148, 8, '        '); // checksum counts its own field as spaces
    put(156, 1, type);
    put(157, 100, link);
    put(257, 6, 'ustar\0');
    put(263, 2, '00');
    put(265, 32, 'root');
    put(297, 32, 'root');
    let sum = 0;
    for (const b of h) sum += b;
    put(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
    this.parts.push(h);
  }
}

// A msgpack encoder for the native protocol's fix messages (docs/protocol.md):
// maps with string keys, arrays, strings, booleans, null, integers and floats.
// Integers are written in their smallest msgpack form (fix times need 64 bits),
// other numbers as float64.

export type Packable = null | boolean | number | string | Packable[] | { [key: string]: Packable };

class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.length++] = b;
    return this;
  }

  bytes(data: Uint8Array): void {
    this.room(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  u16(v: number): this {
    this.room(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
    return this;
  }

  u64(v: bigint): this {
    this.room(8);
    this.view.setBigUint64(this.length, v);
    this.length += 8;
    return this;
  }

  i64(v: bigint): this {
    this.room(8);
    this.view.setBigInt64(this.length, v);
    this.length += 8;
    return this;
  }

  f64(v: number): this {
    this.room(8);
    this.view.setFloat64(this.length, v);
    this.length += 8;
    return this;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const utf8 = new TextEncoder();

function writeInt(w: Writer, v: number): void {
  if (v >= 0 && v < 0x80) w.byte(v);
  else if (v < 0 && v >= -32) w.byte(v & 0xff);
  else if (v >= 0) {
    if (v < 0x100) w.byte(0xcc).byte(v);
    else if (v < 0x10000) w.byte(0xcd).u16(v);
    else if (v < 0x100000000) w.byte(0xce).u32(v);
    else w.byte(0xcf).u64(BigInt(v));
  } else if (v >= -0x80) w.byte(0xd0).byte(v & 0xff);
  else if (v >= -0x8000) w.byte(0xd1).u16(v & 0xffff);
  else if (v >= -0x80000000) w.byte(0xd2).u32(v >>> 0);
  else w.byte(0xd3).i64(BigInt(v));
}

function writeLength(
  w: Writer,
  n: number,
  fix: number,
  fixMax: number,
  c16: number,
  c32: number,
): void {
  if (n <= fixMax) w.byte(fix | n);
  else if (n < 0x10000) w.byte(c16).u16(n);
  else w.byte(c32).u32(n);
}

function write(w: Writer, value: Packable): void {
  if (value === null) w.byte(0xc0);
  else if (value === false) w.byte(0xc2);
  else if (value === true) w.byte(0xc3);
  else if (typeof value === "number") {
    if (Number.isSafeInteger(value)) writeInt(w, value);
    else w.byte(0xcb).f64(value);
  } else if (typeof value === "string") {
    const data = utf8.encode(value);
    if (data.length < 32) w.byte(0xa0 | data.length);
    else if (data.length < 0x100) w.byte(0xd9).byte(data.length);
    else if (data.length < 0x10000) w.byte(0xda).u16(data.length);
    else w.byte(0xdb).u32(data.length);
    w.bytes(data);
  } else if (Array.isArray(value)) {
    writeLength(w, value.length, 0x90, 15, 0xdc, 0xdd);
    for (const item of value) write(w, item);
  } else {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    writeLength(w, keys.length, 0x80, 15, 0xde, 0xdf);
    for (const key of keys) {
      write(w, key);
      write(w, value[key] as Packable);
    }
  }
}

export function pack(value: Packable): Uint8Array {
  const w = new Writer();
  write(w, value);
  return w.result();
}

/**
 * Numbers sent to Postgres as binary array parameters instead of text.
 *
 * A first ingest stores ~1,000 candles per watcher; as JSON (or any text)
 * each of their six numbers is formatted in Node and parsed again in
 * Postgres, which measured ~4–6 ms of the worker's CPU per watcher — as much
 * as computing its indicators. node-postgres sends a Buffer parameter in the
 * binary format, and a parameter cast to `float8[]` / `int4[]` in the SQL is
 * then read by Postgres's own array_recv: eight bytes per float, exact, no
 * formatting either side. The layout is array_send's (src/backend/utils/adt/
 * arrayfuncs.c): ndim, has-nulls flag, element type OID, then per dimension
 * its length and lower bound, then per element its byte length and value, all
 * big-endian. Arrays here are one-dimensional and never hold NULL.
 */

const FLOAT8_OID = 701;
const INT4_OID = 23;

function header(length: number, elementOid: number, elementSize: number): { buf: Buffer; offset: number } {
  const ndim = length === 0 ? 0 : 1;
  const buf = Buffer.allocUnsafe(12 + ndim * 8 + length * (4 + elementSize));
  buf.writeInt32BE(ndim, 0);
  buf.writeInt32BE(0, 4);
  buf.writeUInt32BE(elementOid, 8);
  if (!ndim) return { buf, offset: 12 };
  buf.writeInt32BE(length, 12);
  buf.writeInt32BE(1, 16);
  return { buf, offset: 20 };
}

/** A `float8[]` parameter (cast it in the SQL: `$1::float8[]`). Any finite or non-finite double, exactly. */
export function float8ArrayParam(values: ArrayLike<number>): Buffer {
  const { buf, offset } = header(values.length, FLOAT8_OID, 8);
  let at = offset;
  for (let i = 0; i < values.length; i++) {
    buf.writeInt32BE(8, at);
    buf.writeDoubleBE(values[i]!, at + 4);
    at += 12;
  }
  return buf;
}

/** An `int4[]` parameter (`$1::int4[]`); every value must be a 32-bit integer. */
export function int4ArrayParam(values: ArrayLike<number>): Buffer {
  const { buf, offset } = header(values.length, INT4_OID, 4);
  let at = offset;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // writeInt32BE checks the range but would truncate a fraction silently.
    if (!Number.isInteger(v)) throw new RangeError(`int4 array element ${v} is not an integer`);
    buf.writeInt32BE(4, at);
    buf.writeInt32BE(v, at + 4);
    at += 8;
  }
  return buf;
}

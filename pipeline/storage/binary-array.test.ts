import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/databases';
import { float8ArrayParam, int4ArrayParam } from './binary-array';

// The encoding is checked by the only judge that matters: Postgres's array_recv, over a real connection.

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('binarray');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

// float8 → text at extra_float_digits 3 (pg's default in v12+) is the shortest exact form, as in JS.
const asText = async (param: Buffer, type: 'float8' | 'int4') =>
  (await pool.query<{ v: string[] }>(`select array(select x::text from unnest($1::${type}[]) x) as v`, [param])).rows[0]!.v;

describe('binary array parameters', () => {
  it('reach Postgres as exactly the doubles sent, bit for bit, including the awkward ones', async () => {
    const values = [0, -0, 1, -1.5, 0.1, 1 / 3, 67_432.123456789, 1.7e12 + 300_000, Number.MIN_VALUE, Number.MAX_VALUE, -1e-300, 2 ** 53 + 2];
    const back = await asText(float8ArrayParam(values), 'float8');
    expect(back.map(Number)).toEqual(values);
    // -0 keeps its sign (toEqual treats 0 and -0 as different, but say it plainly).
    expect(back[1]).toBe('-0');
    const special = await asText(float8ArrayParam([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]), 'float8');
    expect(special).toEqual(['NaN', 'Infinity', '-Infinity']);
  });

  it('send a Float64Array as it is, and a thousand values in order', async () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e4);
    const back = await asText(float8ArrayParam(values), 'float8');
    expect(back.map(Number)).toEqual([...values]);
  });

  it('send empty arrays as empty arrays (unnest gives no rows)', async () => {
    expect(await asText(float8ArrayParam([]), 'float8')).toEqual([]);
    expect(await asText(int4ArrayParam([]), 'int4')).toEqual([]);
    const { rows } = await pool.query<{ n: number }>('select cardinality($1::float8[]) as n', [float8ArrayParam([])]);
    expect(rows[0]!.n).toBe(0);
  });

  it('send int4 values exactly and refuse what int4 cannot hold instead of truncating it', async () => {
    const values = [0, 1, -1, 2_147_483_647, -2_147_483_648, 49];
    expect((await asText(int4ArrayParam(values), 'int4')).map(Number)).toEqual(values);
    expect(() => int4ArrayParam([1.5])).toThrow(RangeError);
    expect(() => int4ArrayParam([2 ** 31])).toThrow(RangeError);
  });

  it('are refused by Postgres when cast to another element type, never misread', async () => {
    await expect(pool.query('select $1::int4[] as v', [float8ArrayParam([1, 2])])).rejects.toThrow(/element type 701 .* instead of expected 23/);
  });
});

import { AppError } from '../../common/errors';

/** Reads a JSON body; anything that is not JSON is a 400, never a 500. */
export async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('bad_request', 'The request body is not valid JSON');
  }
}

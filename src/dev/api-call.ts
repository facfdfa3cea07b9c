/**
 * One call to the Switchyard API as a client makes it (bearer token, JSON both ways), for the dev
 * tools and the benches that drive a running API: a non-2xx answer throws with its status and body.
 */
export async function callApi<T>(
  apiUrl: string,
  token: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

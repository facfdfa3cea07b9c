import request from 'supertest';
import type { EventType } from '../../src/domain/events/event-types.js';
import { recordEvent, type EventRow } from '../../src/stores/events/event-store.js';
import type { TestStack } from './stack.js';
import type { WebhookReceiver } from './webhook-receiver.js';

export interface EventsTenant {
  id: string;
  auth: { Authorization: string };
}

/** Creates a webhook endpoint through the API, pointing at `receiver`, which learns its secret. */
export async function createEndpoint(
  stack: TestStack,
  tenant: EventsTenant,
  receiver: WebhookReceiver,
  body: { eventTypes: string[]; payloadStyle?: 'full' | 'thin'; url?: string },
): Promise<{ id: string; secret: string }> {
  const res = await request(stack.app)
    .post('/v1/webhook-endpoints')
    .set(tenant.auth)
    .send({ url: receiver.url, ...body })
    .expect(201);
  const secret = res.body.secret as string;
  receiver.secrets.push(secret);
  return { id: res.body.endpoint.id as string, secret };
}

/** A state change's event, committed in a transaction of its own (as a change's own transaction would). */
export async function emit<T extends EventType>(
  stack: TestStack,
  tenantId: string,
  type: T,
  resource: { type: Parameters<typeof recordEvent<T>>[1]['resource']['type']; id: string },
  data: Record<string, unknown> = {},
): Promise<EventRow> {
  return stack.database.db.transaction((tx) => recordEvent(tx, { tenantId, type, resource, data }));
}

export interface DeliveryView {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed' | 'canceled';
  attemptCount: number;
  attempts: { attemptedAt: string; statusCode: number | null; durationMs: number; error: string | null; responseHead: string | null }[];
}

export async function endpointDeliveries(stack: TestStack, tenant: EventsTenant, endpointId: string, query = ''): Promise<DeliveryView[]> {
  const res = await request(stack.app).get(`/v1/webhook-endpoints/${endpointId}/deliveries?limit=100${query}`).set(tenant.auth).expect(200);
  return res.body.data as DeliveryView[];
}

export async function getEndpoint(stack: TestStack, tenant: EventsTenant, endpointId: string) {
  return (await request(stack.app).get(`/v1/webhook-endpoints/${endpointId}`).set(tenant.auth).expect(200)).body as {
    enabled: boolean;
    disabledReason: string | null;
    failingSince: string | null;
  };
}

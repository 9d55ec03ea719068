/**
 * `kafka-smpp-connector/client`: what an upstream service needs to talk to the connector —
 * send requests to `sms.outbound` (checked with the connector's own rules first) and read the
 * events of `sms.delivery`. The connector's CLI (`produce`, `tail`) and demo use this same code.
 *
 * No process-wide effects: nothing here exits, prints or reads the environment unless asked
 * (`loadClientConfig(process.env)`).
 */
export type { DeliveryStatus, EventSource, SmsDeliveryEvent, SmsEncoding, SmsOutbound } from '../contracts.js';
export { DELIVERY_STATUSES, EVENT_SOURCES, SMS_ENCODINGS } from '../contracts.js';
export { ConfigError, loadClientConfig } from '../config.js';
export type { RequestBounds } from '../pipeline/request-bounds.js';
export { DEFAULT_REQUEST_BOUNDS } from '../pipeline/request-bounds.js';
export { TopicMissingError, type SmsClientConfig } from './connection.js';
export { KafkaLoginRefusedError, TopicNotAuthorizedError } from '../kafka/access-errors.js';
export {
  checkRequest,
  DEFAULT_MAX_SEGMENTS,
  RequestRejectedError,
  toSmsOutbound,
  type CheckOptions,
  type OutboundRequest,
  type RequestCheck,
  type RequestRejection,
} from './request.js';
export { SmsProducer, type KeyedOutboundRequest, type SendOptions, type SentRequest, type SmsProducerOptions } from './producer.js';
export { deliveryEvents, readDeliveryEvents, type DeliveryReadOptions, type DeliveryReadResult, type DeliveryRecord } from './delivery-reader.js';
export type { RawRecord } from './topic-reader.js';

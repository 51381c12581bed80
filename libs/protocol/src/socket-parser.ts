import { Decoder, Encoder, protocol } from 'socket.io-parser';

/**
 * Most binary attachments one socket.io message may carry. socket.io's parser refuses more than
 * 10 by default ("too many attachments"), but a secure-aggregation step carries keys or shares for
 * every neighbour (a key directory holds two keys, an identity key and a signature per participant). The message's total size is
 * still capped by the transport's maxHttpBufferSize.
 */
export const MAX_MESSAGE_ATTACHMENTS = 8192;

/** socket.io's own parser with a decoder that accepts up to MAX_MESSAGE_ATTACHMENTS binary parts. */
class FederationDecoder extends Decoder {
  constructor() {
    super({ maxAttachments: MAX_MESSAGE_ATTACHMENTS });
  }
}

/**
 * The parser both sides use (the coordinator's socket.io server, the edge client's socket.io
 * client, and the in-memory transport of simulations): socket.io's wire format, unchanged.
 */
export const federationParser = { protocol, Encoder, Decoder: FederationDecoder };

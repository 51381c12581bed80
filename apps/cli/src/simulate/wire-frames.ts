import { PacketType, type Packet } from 'socket.io-parser';
import { federationParser } from '@fedkd/protocol';

/**
 * A socket.io packet as it crosses the wire: the parser's text frame and its binary attachments.
 * The in-memory transport encodes every message with socket.io's own parser and decodes it on the
 * other side, so simulated clients and the coordinator exchange exactly the bytes a socket would
 * carry (binary as Node Buffers, everything else through JSON), only without the socket.
 */
export interface WireFrame {
  parts: (string | Uint8Array)[];
}

const encoder = new federationParser.Encoder();

/** An event (with an acknowledgement id when the sender waits for one). */
export function encodeEvent(event: string, payload: unknown, ackId?: number): WireFrame {
  return encodePacket({ type: PacketType.EVENT, nsp: '/', data: [event, payload], ...(ackId !== undefined ? { id: ackId } : {}) });
}

/** The acknowledgement of event `ackId`. */
export function encodeAck(ackId: number, reply: unknown): WireFrame {
  return encodePacket({ type: PacketType.ACK, nsp: '/', data: [reply], id: ackId });
}

function encodePacket(packet: Packet): WireFrame {
  // Binary parts are copied into their own buffers: the frame may be posted to another process.
  return { parts: encoder.encode(packet).map((part: string | Buffer) => (typeof part === 'string' ? part : new Uint8Array(part))) };
}

/** Decodes a frame as the coordinator's server and the edge client do (same parser; binary attachments arrive as Buffers). */
export function decodeFrame(frame: WireFrame): Packet {
  const decoder = new federationParser.Decoder();
  let decoded: Packet | null = null;
  decoder.on('decoded', (packet: Packet) => (decoded = packet));
  for (const part of frame.parts) decoder.add(typeof part === 'string' ? part : Buffer.from(part.buffer, part.byteOffset, part.byteLength));
  decoder.destroy();
  if (!decoded) throw new Error('incomplete wire frame');
  return decoded;
}

/** The event name and payload of a decoded EVENT packet. */
export function eventOf(packet: Packet): { event: string; payload: unknown } {
  const [event, payload] = packet.data as [string, unknown];
  return { event, payload };
}

/** Bytes a frame puts on the wire (text as UTF-8, plus attachments). */
export function frameBytes(frame: WireFrame): number {
  return frame.parts.reduce((sum, part) => sum + (typeof part === 'string' ? Buffer.byteLength(part) : part.byteLength), 0);
}

import { describe, expect, it } from 'vitest';
import { Decoder } from 'socket.io-parser';
import { decodeFrame, encodeAck, encodeEvent, eventOf, frameBytes } from './wire-frames';

describe('wire frames of the in-memory transport', () => {
  it('carry an event with binary fields as socket.io does: JSON text plus attachments that arrive as Buffers', () => {
    const payload = { round: 3, data: Uint8Array.from([1, 2, 3, 250]), nested: { keys: [Uint8Array.from([9]), Uint8Array.from([8, 7])] } };
    const frame = encodeEvent('round.predictions', payload, 17);
    expect(typeof frame.parts[0]).toBe('string');
    expect(frame.parts).toHaveLength(4);
    const packet = decodeFrame(frame);
    expect(packet.id).toBe(17);
    const { event, payload: decoded } = eventOf(packet);
    expect(event).toBe('round.predictions');
    const d = decoded as { round: number; data: Buffer; nested: { keys: Buffer[] } };
    expect(d.round).toBe(3);
    expect(Buffer.isBuffer(d.data)).toBe(true);
    expect([...d.data]).toEqual([1, 2, 3, 250]);
    expect(d.nested.keys.map((k) => [...k])).toEqual([[9], [8, 7]]);
    expect(frameBytes(frame)).toBe(Buffer.byteLength(frame.parts[0] as string) + 4 + 1 + 2);
  });

  it('decode more binary attachments than socket.io\'s default parser accepts (a key directory of many participants)', () => {
    const payload = { participants: Array.from({ length: 40 }, (_, i) => ({ id: `c-${i}`, key: Uint8Array.from([i]) })) };
    const frame = encodeEvent('secagg', payload);
    const stock = new Decoder();
    expect(() => frame.parts.forEach((part) => stock.add(typeof part === 'string' ? part : Buffer.from(part)))).toThrow(/too many attachments/);
    const decoded = eventOf(decodeFrame(frame)).payload as { participants: { key: Buffer }[] };
    expect(decoded.participants[39].key[0]).toBe(39);
  });

  it('carry acknowledgements back with their id', () => {
    const packet = decodeFrame(encodeAck(5, { ok: false, code: 'STALE_ROUND', message: 'no round is collecting' }));
    expect(packet.id).toBe(5);
    expect(packet.data).toEqual([{ ok: false, code: 'STALE_ROUND', message: 'no round is collecting' }]);
  });
});

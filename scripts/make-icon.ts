// Draws clemplay's app icon: two speech bubbles, two models in conversation, on an indigo tile. Written from
// shapes so that it needs no image tool and comes out byte for byte the same each time:
//   npx tsx scripts/make-icon.ts build/icon.png [--size 1024]
// electron-builder makes the macOS .icns and the Windows .ico from this PNG.
import { writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';

type Color = readonly [number, number, number];

/** One shape: whether a point (in a 1024 × 1024 design space) is inside it, and its colour there. */
interface Shape {
  contains(x: number, y: number): boolean;
  color(x: number, y: number): Color;
}

const indigo: Color = [49, 46, 129];
const violet: Color = [109, 40, 217];
const white: Color = [248, 250, 252];
const amber: Color = [251, 191, 36];

function mix(from: Color, to: Color, amount: number): Color {
  return [0, 1, 2].map((channel) => from[channel]! + (to[channel]! - from[channel]!) * amount) as unknown as Color;
}

function roundedSquare(left: number, size: number, radius: number): (x: number, y: number) => boolean {
  return (x, y) => {
    const dx = Math.max(left + radius - x, 0, x - (left + size - radius));
    const dy = Math.max(left + radius - y, 0, y - (left + size - radius));
    return x >= left && x <= left + size && y >= left && y <= left + size && dx * dx + dy * dy <= radius * radius;
  };
}

function circle(cx: number, cy: number, r: number): (x: number, y: number) => boolean {
  return (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function triangle(
  [ax, ay]: [number, number],
  [bx, by]: [number, number],
  [cx, cy]: [number, number],
): (x: number, y: number) => boolean {
  const side = (px: number, py: number, qx: number, qy: number, x: number, y: number) =>
    (qx - px) * (y - py) - (qy - py) * (x - px);
  return (x, y) => {
    const one = side(ax, ay, bx, by, x, y);
    const two = side(bx, by, cx, cy, x, y);
    const three = side(cx, cy, ax, ay, x, y);
    return (one >= 0 && two >= 0 && three >= 0) || (one <= 0 && two <= 0 && three <= 0);
  };
}

const tile = roundedSquare(100, 824, 184);
const background = (x: number, y: number): Color => mix(indigo, violet, (x + y) / 2048);
const firstBubble = (x: number, y: number) =>
  circle(430, 430, 200)(x, y) || triangle([300, 560], [240, 720], [420, 610])(x, y);
const secondBubble = (x: number, y: number) =>
  circle(610, 610, 170)(x, y) || triangle([700, 700], [800, 800], [640, 760])(x, y);
// A ring of the tile's colour around the second bubble keeps the two apart where they overlap.
const gap = (x: number, y: number) => circle(610, 610, 196)(x, y) || triangle([690, 680], [830, 830], [620, 780])(x, y);
const dots = (x: number, y: number) => [340, 430, 520].some((cx) => circle(cx, 430, 30)(x, y));

/** Back to front; the first shape from the front that contains a point colours it. */
const shapes: Shape[] = [
  { contains: dots, color: () => indigo },
  { contains: secondBubble, color: () => amber },
  { contains: gap, color: background },
  { contains: firstBubble, color: () => white },
  { contains: tile, color: background },
];

/** The icon as RGBA rows, each point sampled 4 × 4 times for smooth edges. */
export function drawIcon(size: number): Buffer {
  const samples = 4;
  const scale = 1024 / size;
  const pixels = Buffer.alloc(size * size * 4);
  for (let row = 0; row < size; row += 1) {
    for (let column = 0; column < size; column += 1) {
      let red = 0;
      let green = 0;
      let blue = 0;
      let covered = 0;
      for (let sy = 0; sy < samples; sy += 1) {
        for (let sx = 0; sx < samples; sx += 1) {
          const x = (column + (sx + 0.5) / samples) * scale;
          const y = (row + (sy + 0.5) / samples) * scale;
          const shape = shapes.find((candidate) => candidate.contains(x, y));
          if (shape === undefined) continue;
          const [r, g, b] = shape.color(x, y);
          red += r;
          green += g;
          blue += b;
          covered += 1;
        }
      }
      const offset = (row * size + column) * 4;
      if (covered > 0) {
        pixels[offset] = Math.round(red / covered);
        pixels[offset + 1] = Math.round(green / covered);
        pixels[offset + 2] = Math.round(blue / covered);
      }
      pixels[offset + 3] = Math.round((covered / (samples * samples)) * 255);
    }
  }
  return pixels;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const checksum = Buffer.alloc(4);
  checksum.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, checksum]);
}

/** A PNG file of RGBA pixels: 8 bits a channel, no filtering, one zlib stream. */
export function encodePng(pixels: Buffer, size: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8);
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let row = 0; row < size; row += 1) {
    pixels.copy(rows, row * (size * 4 + 1) + 1, row * size * 4, (row + 1) * size * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

if (import.meta.filename === process.argv[1]) {
  const [output, flag, value] = process.argv.slice(2);
  if (output === undefined || (flag !== undefined && flag !== '--size')) {
    process.stderr.write('usage: npx tsx scripts/make-icon.ts OUT.png [--size N]\n');
    process.exit(2);
  }
  const size = Number(value ?? 1024);
  writeFileSync(output, encodePng(drawIcon(size), size));
}

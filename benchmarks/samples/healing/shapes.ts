// Geometry helpers for the canvas editor: shapes, bounding boxes and hit tests.
export interface Point {
  x: number;
  y: number;
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export function distance(a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  return Math.sqrt(dx * dx + dy * dy);
}

export function boundingBox(points: Point[]): Rect {
  if (points.length === 0) {
    throw new Error("cannot bound an empty list of points");
  }
  let minX = points[0].x;
  let minY = points[0].y;
  let maxX = minX;
  let maxY = minY;
  for (const point of points) {
    // grow the box to include every point
    minX = Math.min(minX, point.x);
    minY = Math.min(minY, point.y);
    maxX = Math.max(maxX, point.x);
    maxY = Math.max(maxY, point.y);
  }
  return { left: minX, top: minY, width: maxX - minX, height: maxY - minY };
}

export function contains(rect: Rect, point: Point): boolean {
  return point.x >= rect.left && point.x <= rect.left + rect.width &&
    point.y >= rect.top && point.y <= rect.top + rect.height;
}

export function formatPoint(point: Point): string {
  return `(${point.x.toFixed(2)}, ${point.y.toFixed(2)})`;
}

/**
 * Browser helpers for the POS app: open the camera and grab one RGBA frame from a playing <video>,
 * ready for `engine.processFrame(img.data, img.width, img.height)`. The frame stays in the page.
 */

/** Starts the camera (user-facing by default) on a new muted <video> and waits for the first frame. */
export async function openCamera(constraints: MediaTrackConstraints = { width: 640, height: 480, facingMode: "user" }): Promise<{ video: HTMLVideoElement; stop: () => void }> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: constraints, audio: false });
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  await video.play();
  await nextVideoFrame(video);
  return { video, stop: () => stream.getTracks().forEach((t) => t.stop()) };
}

/** Resolves when the video has presented a new frame. */
export function nextVideoFrame(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve) => {
    if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(() => resolve());
    else requestAnimationFrame(() => resolve());
  });
}

/** Draws the current video frame to a canvas and returns its RGBA pixels. */
export function captureFrame(video: HTMLVideoElement, canvas: HTMLCanvasElement = document.createElement("canvas")): ImageData {
  const w = video.videoWidth;
  const h = video.videoHeight;
  if (!w || !h) throw new RangeError("captureFrame: the video has no frame yet");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) throw new TypeError("captureFrame: no 2D canvas context");
  ctx.drawImage(video, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

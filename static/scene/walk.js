// Walking through the model with the keyboard: W/S or ↑/↓ forward and back, A/D sideways, Q/E down and
// up, Shift four times faster. ←/→ are left to the narration (previous/next step). Keys are ignored
// while a text field has focus or a Ctrl/Alt/Meta shortcut is pressed. Camera and orbit target move
// together, so orbiting afterwards turns around the point you walked to. Alt + drag looks around from
// where you stand (the target turns around the camera, not the camera around the target).
import * as THREE from "three";

const MOVES = {
  KeyW: [0, 0, 1], ArrowUp: [0, 0, 1], KeyS: [0, 0, -1], ArrowDown: [0, 0, -1],
  KeyA: [-1, 0, 0], KeyD: [1, 0, 0], KeyQ: [0, -1, 0], KeyE: [0, 1, 0],
};
const SPEED = 0.35;  // fraction of the distance to the orbit target covered per second
const FAST = 4;
const LOOK_RADIANS_PER_PX = 0.004;
const MAX_PITCH = 1.45;  // radians from the horizon: never flip over the top

function typingInto(target) {
  if (!target || !(target instanceof Element)) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

export class WalkKeys {
  constructor(onChange) {
    this.held = new Set();
    this.fast = false;
    this.onChange = onChange;
    this.onKeyDown = (event) => {
      if (!(event.code in MOVES) || event.ctrlKey || event.altKey || event.metaKey || typingInto(event.target)) return;
      event.preventDefault();  // arrows and Q/E would otherwise scroll or type elsewhere
      this.held.add(event.code);
      this.fast = event.shiftKey;
      this.onChange();
    };
    this.onKeyUp = (event) => {
      this.held.delete(event.code);
      this.fast = event.shiftKey;
    };
    this.onBlur = () => this.held.clear();
    window.addEventListener("keydown", this.onKeyDown);
    window.addEventListener("keyup", this.onKeyUp);
    window.addEventListener("blur", this.onBlur);
  }

  get active() {
    return this.held.size > 0;
  }

  /** Moves camera and target for `seconds` of held keys; returns whether anything moved. */
  step(camera, target, seconds) {
    if (!this.held.size) return false;
    const forward = new THREE.Vector3().subVectors(target, camera.position);
    const distance = Math.max(forward.length(), 1);
    forward.normalize();
    const right = new THREE.Vector3().crossVectors(forward, camera.up).normalize();
    const up = new THREE.Vector3().crossVectors(right, forward);
    const move = new THREE.Vector3();
    for (const code of this.held) {
      const [x, y, z] = MOVES[code];
      move.addScaledVector(right, x).addScaledVector(up, y).addScaledVector(forward, z);
    }
    if (move.lengthSq() === 0) return false;
    move.normalize().multiplyScalar(distance * SPEED * (this.fast ? FAST : 1) * seconds);
    camera.position.add(move);
    target.add(move);
    return true;
  }

  dispose() {
    window.removeEventListener("keydown", this.onKeyDown);
    window.removeEventListener("keyup", this.onKeyUp);
    window.removeEventListener("blur", this.onBlur);
  }
}

/**
 * Alt + drag on the canvas turns the view in place. It listens in the capture phase so it can switch the
 * orbit controls off before they see the press.
 */
export class MouseLook {
  constructor(canvas, camera, controls, onChange) {
    this.last = null;
    this.onDown = (event) => {
      if (!event.altKey || event.button !== 0) return;
      controls.enabled = false;
      this.last = [event.clientX, event.clientY];
      canvas.setPointerCapture(event.pointerId);
    };
    this.onMove = (event) => {
      if (!this.last) return;
      const [dx, dy] = [event.clientX - this.last[0], event.clientY - this.last[1]];
      this.last = [event.clientX, event.clientY];
      turn(camera, controls.target, -dx * LOOK_RADIANS_PER_PX, -dy * LOOK_RADIANS_PER_PX);
      onChange();
    };
    this.onUp = () => {
      if (!this.last) return;
      this.last = null;
      controls.enabled = true;
    };
    this.canvas = canvas;
    canvas.addEventListener("pointerdown", this.onDown, { capture: true });
    canvas.addEventListener("pointermove", this.onMove);
    canvas.addEventListener("pointerup", this.onUp);
    canvas.addEventListener("pointercancel", this.onUp);
  }

  dispose() {
    this.canvas.removeEventListener("pointerdown", this.onDown, { capture: true });
    this.canvas.removeEventListener("pointermove", this.onMove);
    this.canvas.removeEventListener("pointerup", this.onUp);
    this.canvas.removeEventListener("pointercancel", this.onUp);
  }
}

/** Turns the view direction (camera -> target) by yaw about the up axis and pitch about the right axis. */
export function turn(camera, target, yaw, pitch) {
  const offset = new THREE.Vector3().subVectors(target, camera.position);
  const spherical = new THREE.Spherical().setFromVector3(offset);
  spherical.theta += yaw;
  const elevation = Math.PI / 2 - spherical.phi - pitch;
  spherical.phi = Math.PI / 2 - Math.max(-MAX_PITCH, Math.min(MAX_PITCH, elevation));
  target.copy(camera.position).add(offset.setFromSpherical(spherical));
}

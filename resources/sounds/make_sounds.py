#!/usr/bin/env python3
"""Generate the Seller Notifier notification sounds.

Only the standard library is used (math, wave, array, random with a fixed
seed), so running this script again writes byte-identical WAV files::

    python resources/sounds/make_sounds.py            # writes next to this script
    python resources/sounds/make_sounds.py OUT_DIR    # writes into OUT_DIR

Every file is 16-bit PCM, mono, 44.1 kHz, shorter than one second,
normalised to a peak of -3 dBFS, with a short raised-cosine fade-in and
fade-out so that playback starts and stops without clicks.
"""

from __future__ import annotations

import array
import math
import random
import sys
import wave
from collections.abc import Callable, Sequence
from pathlib import Path

SAMPLE_RATE = 44_100
PEAK_DBFS = -3.0
FADE_IN_S = 0.005
FADE_OUT_S = 0.030
SEED = 20240607

TWO_PI = 2.0 * math.pi

Buffer = list[float]
# (frequency ratio, relative amplitude, decay rate in 1/s)
Partial = tuple[float, float, float]


def silence(duration: float) -> Buffer:
    return [0.0] * int(round(duration * SAMPLE_RATE))


def mix_into(dest: Buffer, src: Sequence[float], start: float, gain: float = 1.0) -> None:
    """Add ``src`` into ``dest`` beginning at ``start`` seconds (clipped to dest)."""
    offset = int(round(start * SAMPLE_RATE))
    end = min(len(dest), offset + len(src))
    for i in range(offset, end):
        dest[i] += gain * src[i - offset]


def struck_tone(
    freq: float,
    duration: float,
    partials: Sequence[Partial],
    attack: float = 0.004,
    detune: float = 0.0,
) -> Buffer:
    """A struck/plucked tone: a sum of exponentially decaying sine partials.

    ``attack`` is a raised-cosine onset so a note entering mid-file does not
    click.  ``detune`` (Hz) adds a slightly detuned twin of each partial, which
    produces the slow beating ("shimmer") typical of real bells.
    """
    n = int(round(duration * SAMPLE_RATE))
    n_attack = max(1, int(round(attack * SAMPLE_RATE)))
    out = [0.0] * n
    for ratio, amp, decay in partials:
        f = freq * ratio
        if f >= SAMPLE_RATE / 2.0 - 500.0:  # keep well below Nyquist
            continue
        # A weaker detuned twin gives a gentle shimmer rather than a deep tremolo.
        twins = [(f, amp)] if detune == 0.0 else [(f, amp * 0.8), (f + detune * ratio, amp * 0.2)]
        for ff, aa in twins:
            w = TWO_PI * ff / SAMPLE_RATE
            for i in range(n):
                out[i] += aa * math.exp(-decay * i / SAMPLE_RATE) * math.sin(w * i)
    for i in range(min(n_attack, n)):
        out[i] *= 0.5 - 0.5 * math.cos(math.pi * i / n_attack)
    return out


def noise_burst(rng: random.Random, duration: float, decay: float, highpass: float) -> Buffer:
    """A short, decaying burst of white noise through a one-pole high-pass."""
    n = int(round(duration * SAMPLE_RATE))
    rc = 1.0 / (TWO_PI * highpass)
    alpha = rc / (rc + 1.0 / SAMPLE_RATE)
    out = [0.0] * n
    prev_in = 0.0
    prev_out = 0.0
    n_attack = max(1, int(round(0.0015 * SAMPLE_RATE)))
    for i in range(n):
        x = rng.uniform(-1.0, 1.0)
        y = alpha * (prev_out + x - prev_in)
        prev_in, prev_out = x, y
        env = math.exp(-decay * i / SAMPLE_RATE)
        if i < n_attack:
            env *= 0.5 - 0.5 * math.cos(math.pi * i / n_attack)
        out[i] = y * env
    return out


def karplus_strong(rng: random.Random, freq: float, duration: float, damping: float) -> Buffer:
    """Plucked string (Karplus-Strong) with a pre-smoothed, DC-free excitation."""
    period = max(2, int(round(SAMPLE_RATE / freq)))
    excitation = [rng.uniform(-1.0, 1.0) for _ in range(period)]
    # Two passes of a 3-tap moving average soften the attack ("soft" pluck).
    for _ in range(2):
        excitation = [
            (excitation[i - 1] + excitation[i] + excitation[(i + 1) % period]) / 3.0
            for i in range(period)
        ]
    mean = sum(excitation) / period
    buf = [x - mean for x in excitation]
    n = int(round(duration * SAMPLE_RATE))
    out = [0.0] * n
    idx = 0
    for i in range(n):
        current = buf[idx]
        nxt = buf[(idx + 1) % period]
        out[i] = current
        buf[idx] = damping * 0.5 * (current + nxt)
        idx = (idx + 1) % period
    return out


def one_pole_lowpass(signal: Buffer, cutoff: float) -> Buffer:
    a = math.exp(-TWO_PI * cutoff / SAMPLE_RATE)
    out = [0.0] * len(signal)
    y = 0.0
    for i, x in enumerate(signal):
        y = (1.0 - a) * x + a * y
        out[i] = y
    return out


def finish(signal: Buffer) -> Buffer:
    """Remove DC, apply the global fades and normalise to PEAK_DBFS."""
    n = len(signal)
    mean = sum(signal) / n
    out = [x - mean for x in signal]
    n_in = int(round(FADE_IN_S * SAMPLE_RATE))
    n_out = int(round(FADE_OUT_S * SAMPLE_RATE))
    for i in range(n_in):
        out[i] *= 0.5 - 0.5 * math.cos(math.pi * i / n_in)
    for i in range(n_out):
        # reaches exactly 0 on the last sample
        out[n - 1 - i] *= 0.5 - 0.5 * math.cos(math.pi * i / n_out)
    peak = max(abs(x) for x in out)
    target = 10.0 ** (PEAK_DBFS / 20.0)
    return [x * target / peak for x in out]


def to_pcm16(signal: Sequence[float]) -> array.array[int]:
    pcm = array.array("h", (max(-32768, min(32767, int(round(x * 32767.0)))) for x in signal))
    if sys.byteorder == "big":  # WAV data is little-endian
        pcm.byteswap()
    return pcm


def write_wav(path: Path, signal: Sequence[float]) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(to_pcm16(signal).tobytes())


# --------------------------------------------------------------------------
# The sounds
# --------------------------------------------------------------------------

CHIME_PARTIALS: list[Partial] = [
    (1.0, 1.0, 4.5),
    (2.0, 0.22, 7.0),
    (3.0, 0.06, 11.0),
    (4.16, 0.04, 16.0),
]


def new_order(_rng: random.Random) -> Buffer:
    """Two-note chime: G5 then C6 (a rising fourth), soft and round."""
    out = silence(0.80)
    mix_into(out, struck_tone(783.99, 0.80, CHIME_PARTIALS, attack=0.004), 0.0, 0.85)
    mix_into(out, struck_tone(1046.50, 0.66, CHIME_PARTIALS, attack=0.004), 0.14, 1.0)
    return out


BELL_PARTIALS: list[Partial] = [
    (1.0, 1.0, 5.0),
    (2.76, 0.55, 7.5),
    (5.40, 0.30, 11.0),
    (8.93, 0.14, 16.0),
]


def payment(rng: random.Random) -> Buffer:
    """Ka-ching: a short mechanical clack, then two bright metallic bell strikes."""
    out = silence(0.90)
    # "ka": a dry clack of high-passed noise plus a damped wooden-ish knock.
    mix_into(out, noise_burst(rng, 0.045, decay=110.0, highpass=1800.0), 0.0, 1.3)
    knock = struck_tone(620.0, 0.05, [(1.0, 1.0, 90.0), (2.3, 0.5, 120.0)], attack=0.001)
    mix_into(out, knock, 0.0, 0.8)
    # "ching": two quick strikes of a small bright bell, the second a bit higher.
    mix_into(out, struck_tone(1480.0, 0.82, BELL_PARTIALS, attack=0.0015, detune=2.5), 0.055, 0.8)
    mix_into(out, noise_burst(rng, 0.012, decay=300.0, highpass=4000.0), 0.055, 0.25)
    mix_into(out, struck_tone(1760.0, 0.72, BELL_PARTIALS, attack=0.0015, detune=3.0), 0.145, 1.0)
    mix_into(out, noise_burst(rng, 0.012, decay=300.0, highpass=4000.0), 0.145, 0.25)
    return out


def review(rng: random.Random) -> Buffer:
    """A soft single pluck (Karplus-Strong string at A4), gently low-passed."""
    out = silence(0.70)
    pluck = karplus_strong(rng, 440.0, 0.70, damping=0.9965)
    mix_into(out, one_pole_lowpass(pluck, 2500.0), 0.0)
    return out


ARP_PARTIALS: list[Partial] = [
    (1.0, 1.0, 5.0),
    (2.0, 0.30, 8.0),
    (3.0, 0.12, 12.0),
    (4.0, 0.05, 16.0),
]


def tier_upgrade(_rng: random.Random) -> Buffer:
    """Rising three-note arpeggio C5-E5-G5, the last note ringing longest."""
    out = silence(0.95)
    notes = [(523.25, 0.00, 0.80), (659.26, 0.12, 0.85), (783.99, 0.24, 1.0)]
    for freq, start, gain in notes:
        tone = struck_tone(freq, 0.95 - start, ARP_PARTIALS, attack=0.005)
        mix_into(out, tone, start, gain)
    return out


SOUNDS: dict[str, Callable[[random.Random], Buffer]] = {
    "new-order": new_order,
    "payment": payment,
    "review": review,
    "tier-upgrade": tier_upgrade,
}


def main(argv: Sequence[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, make in SOUNDS.items():
        rng = random.Random(f"{SEED}:{name}")
        signal = finish(make(rng))
        path = out_dir / f"{name}.wav"
        write_wav(path, signal)
        print(f"wrote {path} ({len(signal) / SAMPLE_RATE:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

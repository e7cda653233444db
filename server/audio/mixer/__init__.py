"""The mixer process: the engine's audio side alone in a process of its own, playing through its
own JACK client or a PortAudio stream.

Why a process: CPython runs one thread at a time per process. In one process the audio
callback shares the interpreter lock with the OSC, MIDI and worker threads; whenever numpy
lets go of the lock inside the mix, a control thread may take it and the callback waits. Under
load that wait made xruns (``docs/benchmarks/stress-runs.md``). The mixer process runs nothing
but the callback (and a supervisor that wakes every half second), so nobody else wants its lock.

What crosses between the two processes:

- **Gestures** go through shared memory: the engine stages each one into a free row of the
  voice arena (a file mapped by both) before it schedules the start, exactly as in one process.
- **Actions** (play, stop, panic, gain, rate) go down a pipe as fixed-size binary records
  (``command_dtype``), one ``os.write`` each (atomic: far below ``PIPE_BUF``), so any control thread may
  send. The callback reads whatever arrived with one non-blocking ``os.readv`` into a
  preallocated buffer at the start of each block.
- **Replies** come back up a second pipe (``REPLY`` records): the clock stamp of each block
  (frame, wall time, frames recorded), voice starts and ends, the frame each action ran at,
  arena rows to free, the JACK server's state. They wait in a ring and go out a few writes per
  block at most. A reader thread in the engine's process turns them into OSC replies, the
  recording's log and free rows.
- **Figures** (callbacks, xruns, voices sounding, late actions, callback timing) are plain
  numbers in the shared file, written by the mixer, read on demand.

A pipe's system calls order memory on every architecture, so a row staged before its record is
written is complete when the mixer reads the record; nothing relies on x86's store order.

The mixer ends when the engine's end of the command pipe closes (the engine quit or died). If
the mixer dies, the engine says so (``/audio/state lost``), starts a new one and goes on."""

from gesturegan.server.audio.mixer.link import MixerProcess
from gesturegan.server.audio.mixer.process import Mixer, run_mixer
from gesturegan.server.audio.mixer.protocol import (
    command_dtype,
    decode_action,
    encode_action,
)

__all__ = ["Mixer", "MixerProcess", "command_dtype", "decode_action", "encode_action", "run_mixer"]

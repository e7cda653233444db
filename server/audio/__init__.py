"""The audio side's adapters: the clock that maps time to frames, the backends (our JACK client,
PortAudio through sounddevice, pyo, a wall clock), the mixer process and its link, garbage
collector handling, and the recording tap. Reads the core; the core never reads it."""

"""Tools around the engine, never on its audio path: bench (measurements), demo, doctor, the
JACK dummy server and the harness that bench and the tests share."""

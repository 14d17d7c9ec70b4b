"""The packing bench agent: scanner, camera and scale in; answers on screen; a lossless outbox."""

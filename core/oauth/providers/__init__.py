"""One module per platform: where its OAuth departs from the RFC."""

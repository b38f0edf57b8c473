#!/usr/bin/env python
from efp.cli import main

if __name__ == "__main__":
    main()

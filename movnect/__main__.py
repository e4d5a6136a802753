from movnect.cli import main

raise SystemExit(main())

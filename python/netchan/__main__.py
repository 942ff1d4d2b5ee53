from netchan.cli import main

raise SystemExit(main())

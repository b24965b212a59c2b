from cvsession.cli import main

raise SystemExit(main())

from territory.dedupe.service import main

main()

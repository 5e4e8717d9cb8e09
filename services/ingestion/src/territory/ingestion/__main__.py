from territory.ingestion.app import main

main()

from generator.cli.common import main

main(prog_name="portfolio")

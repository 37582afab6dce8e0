from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def readme_block(command: str) -> list[str]:
    """The lines of the README's console block that starts with ``$ command``."""
    return README.read_text().split(f"$ {command}\n", 1)[1].split("```", 1)[0].splitlines()

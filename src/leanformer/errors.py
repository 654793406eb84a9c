"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class LeanformerError(Exception):
    """Something the user can fix: bad input, a missing file, an unsupported model."""

    exit_code = 2


class DataError(LeanformerError):
    """Bad data, located as precisely as we can: file, line, field."""

    def __init__(self, path, message: str, line: int | None = None, field: str | None = None):
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.field = path, line, field

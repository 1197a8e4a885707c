"""A small module to complete: `make demo` puts the cursor on line 9, after the indentation."""


def mean(values: list[float]) -> float:
    if not values:
        raise ValueError("mean of an empty list")
    total = 0.0
    for value in values:
        total += value
    return total / len(values)


def variance(values: list[float]) -> float:
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)

"""A small module to complete: `make demo` asks for line 9 (the loop body), after its indentation."""


def mean(values: list[float]) -> float:
    if not values:
        raise ValueError("mean of an empty list")
    total = 0.0
    for value in values:
        
    return total / len(values)


def variance(values: list[float]) -> float:
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)

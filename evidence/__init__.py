"""evidence: a living evidence base on social ties and health, and the toolkit that runs it.

Data flows one way: records -> effects -> pooling -> results -> plots/book.
"""

__version__ = "0.1.0"

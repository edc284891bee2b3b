"""Contact networks (plain ``torch.nn.Module``s)."""

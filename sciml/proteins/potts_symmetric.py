"""The pseudo-likelihood Potts objective restricted to symmetric couplings, stored once per pair.

:class:`~sciml.proteins.potts.PLObjective` fits the asymmetric plm (Ekeberg et al. 2014): W_ij and W_ji are
separate parameters, symmetrised only at the end. GREMLIN, CCMpred and plmc fit the symmetric model instead,
W_ji = W_ij^T, so each pair (i < j) owns one q x q block. :class:`SymmetricPLObjective` is the same objective
(same rows, weights, penalties, centered fields) evaluated at W = W(U), with U the (L (L - 1) / 2, q, q) blocks
of the pairs i < j. Its parameter vector is [h (L q), U], half the asymmetric one.

Why: on the L = 256 msa_pairs families most of an L-BFGS iteration is passes over the 29 M coupling entries
(the optimiser's own vector work is 54-63 % of an iteration; BENCHMARKS.md). Half the parameters halves those
passes and the memory of the curvature pairs. The objective itself is still evaluated by the asymmetric code on
a full W, rebuilt from U before each evaluation; its gradient is folded back onto U (the chain rule through
W(U): dF/dU_ij = dF/dW_ij + (dF/dW_ji)^T). Both move whole q x q blocks (index_select / index_put over a
stacked [U; U^T]); measured at L = 256 (1a0tP, one core): rebuild ~39 ms and fold ~40-55 ms per evaluation, against
~130-170 ms for the objective itself and ~130 ms of optimiser passes that the halved vectors save per iteration
(the first version gathered element-wise views and took 118 + 230 ms). Fit times: BENCHMARKS.md
(``benchmarks/proteins/potts_speed.py --potts '{"symmetric": true}'``).

Penalty: the asymmetric fit's lambda_J' |W|^2 on the full W, i.e. 2 lambda_J' |U|^2.
"""

from __future__ import annotations

from typing import Any

from sciml.proteins.alignments import Q


class SymmetricPLObjective:
    """The plm objective of ``inner`` (a :class:`~sciml.proteins.potts.PLObjective`) over symmetric couplings.

    Same interface as ``inner``: ``value_and_grad(theta, grad)``, ``precondition_(v)``, ``to_theta(h, W)``,
    ``from_theta(theta)``, with theta = [h (L q) in ``inner``'s field coordinates, U (P q q)], P = L (L - 1) / 2
    pairs i < j in ``torch.triu_indices`` order, U[p, a, b] = W[(i, a), (j, b)] = W[(j, b), (i, a)].
    Holds two scratch vectors of ``inner``'s size (the full parameters and their gradient).
    """

    def __init__(self, inner: Any) -> None:
        import torch

        self.inner = inner
        L, dev = inner.L, inner.device
        self.L, self.nh, self.device = L, inner.nh, dev
        iu, ju = torch.triu_indices(L, L, 1, device=dev)
        self.pairs = (iu, ju)
        self.P = len(iu)
        self.n = self.nh + self.P * Q * Q
        # For every column block of inner's layout, the (L, positions) grid of (row position i, column position j)
        # as an index into UU = [U; U^T (each block transposed); 0] (2 P + 1, q, q): p(i, j) where i < j, P + p(j, i)
        # where i > j, 2 P on the diagonal (no self-coupling). The rebuild then gathers whole q x q blocks
        # (index_select) and the fold scatters them (index_put); the transposes are done once per call on U.
        pid = torch.full((L, L), 2 * self.P, dtype=torch.long, device=dev)
        pid[iu, ju] = torch.arange(self.P, device=dev)
        pid[ju, iu] = self.P + torch.arange(self.P, device=dev)
        self._block_index = [pid[:, s // Q:e // Q].reshape(-1).contiguous() for s, e in inner.blocks]
        self._full = torch.zeros(inner.n, device=dev)
        self._gfull = torch.empty(inner.n, device=dev)

    def _stacked(self, scratch: Any) -> Any:
        """The (2 P + 1, q, q) view of the front of an ``inner``-sized scratch vector that holds UU."""
        return scratch[:(2 * self.P + 1) * Q * Q].view(2 * self.P + 1, Q, Q)

    def expand_(self, theta: Any, full: Any, scratch: Any | None = None) -> Any:
        """Write ``inner``'s parameter vector for [h, U] = ``theta`` into ``full`` (W symmetric, zero diagonal
        blocks) and return it. ``scratch`` (``inner``-sized; default the gradient scratch, which the evaluation
        overwrites anyway) holds UU."""
        import torch

        L = self.L
        U = theta[self.nh:].view(self.P, Q, Q)
        UU = self._stacked(self._gfull if scratch is None else scratch)
        with torch.no_grad():
            full[:self.nh].copy_(theta[:self.nh])
            UU[:self.P].copy_(U)
            UU[self.P:2 * self.P].copy_(U.transpose(1, 2))
            UU[2 * self.P].zero_()
            _, blocks = self.inner._views(full)
            for idx, blk in zip(self._block_index, blocks):
                # block (i, j) of W: U_ij (i < j), U_ji^T (i > j), 0 (i = j), as (L, q, positions, q)
                npos = blk.shape[1] // Q
                blk.view(L, Q, npos, Q).copy_(UU.index_select(0, idx).view(L, npos, Q, Q).permute(0, 2, 1, 3))
        return full

    def fold_(self, gfull: Any, grad: Any, scratch: Any | None = None) -> Any:
        """The gradient with respect to [h, U] from one with respect to ``inner``'s parameters (chain rule through
        W(U): dF/dU_ij = dF/dW_ij + (dF/dW_ji)^T), written into ``grad``. ``scratch`` (default the parameter
        scratch, free once the objective is evaluated) holds the blocks of dF/dW in UU's order."""
        import torch

        L = self.L
        GG = self._stacked(self._full if scratch is None else scratch)
        gU = grad[self.nh:].view(self.P, Q, Q)
        with torch.no_grad():
            grad[:self.nh].copy_(gfull[:self.nh])
            _, blocks = self.inner._views(gfull)
            for idx, blk in zip(self._block_index, blocks):
                npos = blk.shape[1] // Q  # (a 2-D index puts the strided blocks without a contiguous copy first)
                GG[idx.view(L, npos)] = blk.view(L, Q, npos, Q).permute(0, 2, 1, 3)
            torch.add(GG[:self.P], GG[self.P:2 * self.P].transpose(1, 2), out=gU)
        return grad

    def value_and_grad(self, theta: Any, grad: Any | None = None) -> float:
        """Objective at [h, U] = ``theta``; when ``grad`` is given it is overwritten with the gradient."""
        full = self.expand_(theta, self._full)
        if grad is None:
            return self.inner.value_and_grad(full)
        f = self.inner.value_and_grad(full, self._gfull)
        self.fold_(self._gfull, grad)
        return f

    def precondition_(self, v: Any) -> Any:
        """Divide ``v`` (a [h, U] vector) in place by a diagonal estimate of the objective's Hessian: ``inner``'s
        estimate, summed over the two entries W_ij(a, b) and W_ji(b, a) each U entry sets (they enter different
        conditionals, so the Hessian has no cross term between them; the penalty counts twice)."""
        import torch

        inner = self.inner
        row, col = inner.curvature_factors()
        rowq, colq = row.view(self.L, Q), col.view(self.L, Q)
        iu, ju = self.pairs
        inner.precondition_fields_(v[:self.nh])
        U = v[self.nh:].view(self.P, Q, Q)
        pen = 4.0 * inner.lam_j / inner.norm
        with torch.no_grad():
            for s in range(0, self.P, _PRECONDITION_PAIRS):
                i, j = iu[s:s + _PRECONDITION_PAIRS], ju[s:s + _PRECONDITION_PAIRS]
                # D[p, a, b] = row_ia col_jb + col_ia row_jb + pen, as one batched (q x 2) @ (2 x q) product
                A = torch.stack([rowq[i], colq[i]], 2)
                B = torch.stack([colq[j], rowq[j]], 1)
                U[s:s + _PRECONDITION_PAIRS].div_(torch.baddbmm(A.new_full((1, 1, 1), pen), A, B))
        return v

    def to_theta(self, h: Any, W: Any) -> Any:
        """[h, U] from true fields h (L, q) and an (Lq, Lq) coupling matrix (symmetrised: U from (W + W^T) / 2)."""
        import torch

        Ws = 0.5 * (W + W.T)
        full = self.inner.to_theta(h, Ws)
        iu, ju = self.pairs
        U = Ws.view(self.L, Q, self.L, Q)[iu, :, ju, :]  # (P, q, q)
        return torch.cat([full[:self.nh], U.reshape(-1)])

    def from_theta(self, theta: Any) -> tuple[Any, Any]:
        """(true fields h (L, q), W (Lq, Lq)) copies from [h, U]."""
        import torch

        return self.inner.from_theta(self.expand_(theta, torch.zeros_like(self._full)))


#: Pairs per slice of the curvature temporary in :meth:`SymmetricPLObjective.precondition_`.
_PRECONDITION_PAIRS = 4096

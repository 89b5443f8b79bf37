"""The model registry: versions of local weights and API model specs, gated promotion, lineage.

Prompts live in ``ondo.prompts``; both use the shared alias pointers in ``ondo.aliases``.
The public, workspace-free API is the ``ondo.models`` facade.
"""

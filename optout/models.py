# Curators' manifests, match jobs and matches arrive with the matching issue (#4).

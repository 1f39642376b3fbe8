// The Pulumi program: read and validate the lab, declare the components, export the topology.
import { loadLab } from "./config";
import { planTopology } from "../src/lab/topology";

const lab = loadLab();

export const topology = planTopology(lab);
